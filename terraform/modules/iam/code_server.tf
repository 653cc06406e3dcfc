# ---------------------------------------------------------------------------------------------
# Code server: evaluates the sensors and the schedule (the daemon asks it over gRPC to run them).
# The raw_data sensor drains the arrivals queue (receive, delete) and lists raw-data/ day
# prefixes (object versions) to size runs and reconcile; the sensor and the schedule read a day's
# report to see whether its content was already reported. It publishes run-failure alerts and
# writes the tick logs it captures. It is the only role that may receive from the arrivals queue.
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "code_server" {
  name               = "${var.name}-code-server-task"
  description        = "Dagster code server: drain the arrivals queue, list raw-data/, read reports/, publish alerts, write tick logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "code_server" {
  source_policy_documents = [data.aws_iam_policy_document.db_login.json]

  statement {
    sid       = "ListRawData"
    effect    = "Allow"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["raw-data/*"]
    }
  }

  statement {
    sid       = "ReadReports"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/reports/*"]
  }

  statement {
    sid       = "WriteTickLogs"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/compute-logs/*"]
  }

  statement {
    sid       = "DrainTheArrivalsQueue"
    effect    = "Allow"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [var.arrivals_queue_arn]
  }

  statement {
    sid       = "DecryptArrivals"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "PublishRunFailureAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [var.alert_topic_arn]
  }

  statement {
    sid       = "EncryptAlertsForTheTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sns.${local.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = local.bucket_kms

    content {
      sid       = "DataBucketKmsKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.s3_via_service]
      }
    }
  }
}

resource "aws_iam_role_policy" "code_server" {
  name   = "code-server"
  role   = aws_iam_role.code_server.id
  policy = data.aws_iam_policy_document.code_server.json
}
