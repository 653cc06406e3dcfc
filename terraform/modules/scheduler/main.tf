# Optional daily trigger outside Dagster (off by default): EventBridge Scheduler starts the
# <name>-reprocess task (pipeline-project run, which processes yesterday UTC when RUN_DATE is
# absent) on Fargate, retries failed invocations and parks the ones it gives up on in an encrypted
# SQS dead-letter queue that raises an alarm.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  instances  = var.enabled ? 1 : 0
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  ecs_arn    = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
  schedule   = "${var.name}-reprocess-daily"
}

resource "aws_sqs_queue" "dead_letter" {
  count = local.instances

  name                              = "${var.name}-reprocess-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
}

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.schedule}"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.instances

  name               = "${var.name}-reprocess-scheduler"
  description        = "EventBridge Scheduler: start ${var.reprocess_task_family} daily, dead-letter failures"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "scheduler" {
  count = local.instances

  statement {
    sid       = "RunTheReprocessTask"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = ["${local.ecs_arn}:task-definition/${var.reprocess_task_family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "TagTheTaskAtLaunch"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = ["${local.ecs_arn}:task/${var.cluster_name}/*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "PassTheReprocessRoles"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [var.task_role_arn, var.execution_role_arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "DeadLetterFailedInvocations"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[0].arn]
  }

  statement {
    sid       = "UseTheEnvironmentKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.instances

  name   = "start-reprocess-task"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

resource "aws_scheduler_schedule" "reprocess" {
  count = local.instances

  name                         = local.schedule
  description                  = "Run ${var.reprocess_task_family} (pipeline-project run: yesterday UTC) on Fargate"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = var.kms_key_arn
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.cluster_arn
    role_arn = aws_iam_role.scheduler[0].arn

    ecs_parameters {
      task_definition_arn     = var.task_definition_arn
      launch_type             = "FARGATE"
      task_count              = 1
      enable_ecs_managed_tags = true
      propagate_tags          = "TASK_DEFINITION"

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = [var.security_group_id]
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_event_age_in_seconds = var.maximum_event_age_seconds
      maximum_retry_attempts       = var.maximum_retry_attempts
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  count = local.instances

  alarm_name          = "${var.name}-reprocess-dead-letters"
  alarm_description   = "EventBridge Scheduler could not start the reprocess task; the failed invocation is in ${aws_sqs_queue.dead_letter[0].name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
