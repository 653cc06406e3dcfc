# ---------------------------------------------------------------------------------------------
# Webserver: terminates runs (describe and stop their tasks) and shows compute logs. It never
# launches anything (runs are queued and the daemon launches them), so no RunTask, no PassRole.
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "webserver" {
  name               = "${var.name}-webserver-task"
  description        = "Dagster webserver: terminate run tasks, show compute logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "webserver" {
  source_policy_documents = [
    data.aws_iam_policy_document.stop_run_tasks.json,
    data.aws_iam_policy_document.db_login.json,
  ]

  statement {
    sid       = "ListComputeLogs"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["compute-logs/*"]
    }
  }

  statement {
    sid       = "ReadComputeLogs"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/compute-logs/*"]
  }

  dynamic "statement" {
    for_each = local.bucket_kms

    content {
      sid       = "DataBucketKmsKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.s3_via_service]
      }
    }
  }
}

resource "aws_iam_role_policy" "webserver" {
  name   = "webserver"
  role   = aws_iam_role.webserver.id
  policy = data.aws_iam_policy_document.webserver.json
}
