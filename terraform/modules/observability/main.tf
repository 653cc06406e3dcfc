# Logs, alerting and the dashboard of one environment. The pipeline prints CloudWatch Embedded
# Metric Format lines on stdout (namespace PipelineProject, dimension Environment, property
# Partition); the awslogs driver ships them to the log group below and CloudWatch turns them into
# the metrics these alarms watch.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  region      = data.aws_region.current.region
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  cluster_arn = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/${var.cluster_name}"
  dimensions  = { Environment = var.environment }
  metric      = var.metric_namespace
  env         = var.environment
}

resource "aws_cloudwatch_log_group" "ecs" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment by var.log_retention_days: prod keeps 400 days, dev 30 to save cost.
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# ---------------------------------------------------------------------------------------------
# Alarm topic (encrypted) and who may publish to it.
# ---------------------------------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  display_name      = "${var.name} pipeline alarms"
  kms_master_key_id = var.kms_key_arn
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarms"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "RunTaskFailureRule"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.run_task_failed.arn]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------------------------
# A run (or reprocess) task stopped with a non-zero exit code of its run container, or never
# started (image pull, secrets, capacity): EventBridge -> SNS.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "run_task_failed" {
  name        = "${var.name}-run-task-failed"
  description = "A ${var.name} run or reprocess task stopped with a non-zero exit code or failed to start"

  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn = [local.cluster_arn]
      lastStatus = ["STOPPED"]
      group      = [for family in var.run_task_families : "family:${family}"]
      "$or" = [
        {
          containers = {
            name     = [var.run_container_name]
            exitCode = [{ "anything-but" = [0] }]
          }
        },
        {
          stopCode = ["TaskFailedToStart"]
        },
      ]
    }
  })
}

resource "aws_cloudwatch_event_target" "run_task_failed" {
  rule      = aws_cloudwatch_event_rule.run_task_failed.name
  target_id = "alarm-topic"
  arn       = aws_sns_topic.alarms.arn

  input_transformer {
    input_paths = {
      task     = "$.detail.taskArn"
      group    = "$.detail.group"
      stopCode = "$.detail.stopCode"
      reason   = "$.detail.stoppedReason"
      time     = "$.time"
    }
    input_template = jsonencode({
      alarm       = "${var.name}-run-task-failed"
      environment = var.environment
      message     = "A run task stopped with a non-zero exit code or failed to start"
      task        = "<task>"
      group       = "<group>"
      stop_code   = "<stopCode>"
      reason      = "<reason>"
      time        = "<time>"
      logs        = "CloudWatch log group /ecs/${var.name}, stream prefix ${var.run_container_name}/"
    })
  }
}

# ---------------------------------------------------------------------------------------------
# Metric alarms on the pipeline's EMF metrics and on the daemon.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "no_report" {
  alarm_name          = "${var.name}-no-report-24h"
  alarm_description   = "No daily report was written in the last 24 hours (ReportsWritten < 1; missing data counts as breaching)."
  namespace           = local.metric
  metric_name         = "ReportsWritten"
  dimensions          = local.dimensions
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "run_duration" {
  alarm_name          = "${var.name}-run-duration"
  alarm_description   = "A partition took longer than ${var.run_duration_threshold_seconds} s to process (RunDurationSeconds)."
  namespace           = local.metric
  metric_name         = "RunDurationSeconds"
  dimensions          = local.dimensions
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.run_duration_threshold_seconds
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "rejection_rate" {
  alarm_name          = "${var.name}-rejection-rate"
  alarm_description   = "A partition rejected more than ${var.rejection_rate_threshold * 100}% of its rows (RejectionRate)."
  namespace           = local.metric
  metric_name         = "RejectionRate"
  dimensions          = local.dimensions
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rejection_rate_threshold
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "daemon_not_running" {
  alarm_name          = "${var.name}-daemon-not-running"
  alarm_description   = "The Dagster daemon service has no running task: schedules, sensors and the run queue are stopped."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = var.daemon_service_name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# ---------------------------------------------------------------------------------------------
# Dashboard.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "Records per day"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 86400
          metrics = [
            [local.metric, "RecordsRead", "Environment", local.env],
            [local.metric, "RecordsValid", "Environment", local.env],
            [local.metric, "RecordsRejected", "Environment", local.env],
            [local.metric, "RecordsDuplicates", "Environment", local.env],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 6
        height = 6
        properties = {
          title       = "Rejection rate (max)"
          region      = local.region
          view        = "timeSeries"
          stat        = "Maximum"
          period      = 3600
          metrics     = [[local.metric, "RejectionRate", "Environment", local.env]]
          annotations = { horizontal = [{ label = "alarm", value = var.rejection_rate_threshold }] }
        }
      },
      {
        type   = "metric"
        x      = 18
        y      = 0
        width  = 6
        height = 6
        properties = {
          title       = "Run duration (s, max)"
          region      = local.region
          view        = "timeSeries"
          stat        = "Maximum"
          period      = 3600
          metrics     = [[local.metric, "RunDurationSeconds", "Environment", local.env]]
          annotations = { horizontal = [{ label = "alarm", value = var.run_duration_threshold_seconds }] }
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 6
        height = 6
        properties = {
          title   = "Reports written per day"
          region  = local.region
          view    = "bar"
          stat    = "Sum"
          period  = 86400
          metrics = [[local.metric, "ReportsWritten", "Environment", local.env]]
        }
      },
      {
        type   = "metric"
        x      = 6
        y      = 6
        width  = 9
        height = 6
        properties = {
          title  = "Service CPU (%)"
          region = local.region
          view   = "timeSeries"
          stat   = "Average"
          period = 300
          metrics = [
            for service in var.service_names : ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", service]
          ]
        }
      },
      {
        type   = "metric"
        x      = 15
        y      = 6
        width  = 9
        height = 6
        properties = {
          title  = "Service memory (%)"
          region = local.region
          view   = "timeSeries"
          stat   = "Average"
          period = 300
          metrics = [
            for service in var.service_names : ["AWS/ECS", "MemoryUtilization", "ClusterName", var.cluster_name, "ServiceName", service]
          ]
        }
      },
      {
        type   = "alarm"
        x      = 0
        y      = 12
        width  = 24
        height = 3
        properties = {
          title = "Alarms"
          alarms = [
            aws_cloudwatch_metric_alarm.no_report.arn,
            aws_cloudwatch_metric_alarm.run_duration.arn,
            aws_cloudwatch_metric_alarm.rejection_rate.arn,
            aws_cloudwatch_metric_alarm.daemon_not_running.arn,
          ]
        }
      },
      {
        type   = "log"
        x      = 0
        y      = 15
        width  = 24
        height = 8
        properties = {
          title  = "Recent errors (all containers)"
          region = local.region
          view   = "table"
          query  = "SOURCE '${aws_cloudwatch_log_group.ecs.name}' | fields @timestamp, @logStream, @message | filter @message like /(?i)(error|exception|traceback)/ | sort @timestamp desc | limit 50"
        }
      },
    ]
  })
}
