# Event-driven arrivals: the data bucket's EventBridge notifications for raw-data/ objects (created
# or deleted) go, through one rule on the default bus, into an encrypted SQS queue that the
# raw_data sensor drains at every tick (in the code server, which evaluates sensors). Messages the
# sensor fails to process five times, and events EventBridge could not deliver, land in a
# dead-letter queue that raises an alarm; a queue nobody drains raises another. The sensor still
# lists its look-back window now and then, so a lost message delays a run, it never loses one.

locals {
  queue_name = "${var.name}-arrivals"
  dlq_name   = "${var.name}-arrivals-dlq"
}

# ---------------------------------------------------------------------------------------------
# The rule: this environment's bucket, objects under raw-data/ only.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "arrivals" {
  name           = "${var.name}-arrivals"
  description    = "Objects created or deleted under ${var.raw_data_prefix} in ${var.data_bucket_name}, for the raw_data sensor"
  event_bus_name = "default"

  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail = {
      bucket = {
        name = [var.data_bucket_name]
      }
      object = {
        key = [{ prefix = var.raw_data_prefix }]
      }
    }
  })
}

resource "aws_cloudwatch_event_target" "arrivals" {
  rule           = aws_cloudwatch_event_rule.arrivals.name
  event_bus_name = aws_cloudwatch_event_rule.arrivals.event_bus_name
  target_id      = "arrivals-queue"
  arn            = aws_sqs_queue.arrivals.arn

  retry_policy {
    maximum_event_age_in_seconds = var.maximum_event_age_seconds
    maximum_retry_attempts       = var.maximum_retry_attempts
  }

  # Events EventBridge gives up delivering (queue policy, key policy, throttling) are kept, not lost.
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

# ---------------------------------------------------------------------------------------------
# The queues, encrypted with the environment key.
# ---------------------------------------------------------------------------------------------

resource "aws_sqs_queue" "dead_letter" {
  name                              = local.dlq_name
  message_retention_seconds         = var.message_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "arrivals" {
  name                              = local.queue_name
  message_retention_seconds         = var.message_retention_seconds
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the arrivals queue may redrive into the dead-letter queue (a separate resource: the queue's
# redrive policy already names the dead-letter queue).
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.arrivals.arn]
  })
}

# Each queue admits exactly one sender: EventBridge, on behalf of this rule. The code server's
# task role receives through IAM (modules/iam), an operator replays the dead letters through IAM.
data "aws_iam_policy_document" "arrivals_queue" {
  statement {
    sid       = "ArrivalsRuleOnly"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.arrivals.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.arrivals.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "arrivals" {
  queue_url = aws_sqs_queue.arrivals.id
  policy    = data.aws_iam_policy_document.arrivals_queue.json
}

data "aws_iam_policy_document" "dead_letter_queue" {
  statement {
    sid       = "ArrivalsRuleDeliveryFailures"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.arrivals.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter_queue.json
}

# ---------------------------------------------------------------------------------------------
# Alarms: dead letters, and a queue the sensor does not drain.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-arrivals-dead-letters"
  alarm_description   = "Arrival events are in ${local.dlq_name}: the sensor failed on them ${var.max_receive_count} times, or EventBridge could not deliver them. Fix the cause, then replay (docs/deploy.md, Arrivals: the event path)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
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

resource "aws_cloudwatch_metric_alarm" "not_drained" {
  alarm_name          = "${var.name}-arrivals-not-drained"
  alarm_description   = "The oldest message in ${local.queue_name} is older than ${var.oldest_message_age_alarm_seconds} s: the raw_data sensor (code server) is not draining the queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.arrivals.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
