# One customer managed key per environment. It encrypts the CloudWatch log groups (ECS, VPC flow
# logs, RDS), the alarm topic, the arrivals queue and its dead-letter queue, the scheduler's
# dead-letter queue, ECR images, the RDS storage, Performance Insights and the RDS-managed master
# secret.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  logs_arn   = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group"
  # Every alarm and topic of the environment is named <name>-... (modules/observability,
  # modules/arrivals, modules/scheduler).
  alarms_arn = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"
  topics_arn = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.name}-*"
  # modules/arrivals names its rule <name>-arrivals on the default bus (built here from the name:
  # the queues need this key first, so the rule's own ARN cannot come in).
  arrivals_rule_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-arrivals"

  # Key administration and use by IAM principals of this account, listed action by action
  # (no kms:* wildcard). IAM policies then decide who may use the key.
  account_actions = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
  ]
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" is this key itself; write use is limited to this account (through IAM) and to conditioned service principals.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" is the only valid resource in a KMS key policy and means this key.
  statement {
    sid       = "AccountPrincipalsThroughIam"
    effect    = "Allow"
    actions   = local.account_actions
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsForThisEnvironment"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "${local.logs_arn}:/ecs/${var.name}",
        "${local.logs_arn}:/ecs/${var.name}/*",
        "${local.logs_arn}:/vpc/${var.name}/*",
        "${local.logs_arn}:/aws/rds/instance/${var.name}-*",
      ]
    }
  }

  # CloudWatch alarms of this environment publishing to its encrypted topics: bound to the
  # environment's alarms (aws:SourceArn) and, through SNS's encryption context, its topics.
  statement {
    sid       = "EnvironmentAlarmsToEncryptedTopics"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarms_arn]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [local.topics_arn]
    }
  }

  # EventBridge rules (the run-failure rule) publishing to the environment's encrypted topics.
  # The SNS developer guide says aws:SourceAccount and aws:SourceArn are not supported in a key
  # policy for EventBridge-to-encrypted-topic delivery (the request carries neither, and every
  # notification would fail), so the statement is bound to the environment's topics through
  # SNS's encryption context instead.
  statement {
    sid       = "EnvironmentRulesToEncryptedTopics"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [local.topics_arn]
    }
  }

  # EventBridge puts S3 arrival events (and the ones it cannot deliver) into the encrypted arrivals
  # queues: SQS asks the key for a data key on behalf of the rule.
  statement {
    sid       = "ArrivalsRuleToEncryptedQueues"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.arrivals_rule_arn]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: logs, alarm topic, queues, images, database and its master secret"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
