# ---------------------------------------------------------------------------------------------
# Run worker: one Fargate task per Dagster run, and one per step of a sharded run (same task
# definition, same role). Reads raw-data/, writes reports/, quarantine/ and compute-logs/, keeps
# the shards' intermediate files under work/, and nothing else (it can never modify or delete raw
# data). Only this role may also start the step tasks of its own run (launch_run_tasks in main.tf).
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "run" {
  name               = "${var.name}-run-task"
  description        = "Dagster run worker: read raw-data/, write reports/, quarantine/, compute-logs/, work/; start its step tasks"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "run" {
  source_policy_documents = [data.aws_iam_policy_document.db_login.json]

  statement {
    sid       = "ListRawDataAndQuarantine"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["raw-data/*", "quarantine/*"]
    }
  }

  statement {
    sid       = "ReadRawData"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/raw-data/*"]
  }

  statement {
    sid     = "WriteReportsQuarantineComputeLogs"
    effect  = "Allow"
    actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [
      "${local.bucket_arn}/reports/*",
      "${local.bucket_arn}/quarantine/*",
      "${local.bucket_arn}/compute-logs/*",
    ]
  }

  statement {
    sid       = "ReplaceStaleQuarantineEntries"
    effect    = "Allow"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.bucket_arn}/quarantine/*"]
  }

  # Shards of a large day exchange intermediate files under work/<day>/<run id>/; the publish step
  # lists them (versions, like every storage listing) and deletes them after writing the report.
  statement {
    sid       = "ListShardWork"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["work/*"]
    }
  }

  statement {
    sid       = "ReadWriteDeleteShardWork"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
    resources = ["${local.bucket_arn}/work/*"]
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

resource "aws_iam_role_policy" "run" {
  name   = "run-worker"
  role   = aws_iam_role.run.id
  policy = data.aws_iam_policy_document.run.json
}

resource "aws_iam_role_policy" "run_step_launcher" {
  name   = "step-launcher"
  role   = aws_iam_role.run.id
  policy = data.aws_iam_policy_document.launch_run_tasks.json
}

# The RUN_DATE entry (pipeline-project run) does what a run worker does in-process (work/
# included, no step tasks, so no ECS access), then reads back the report it just wrote to print
# its summary.
resource "aws_iam_role" "reprocess" {
  name               = "${var.name}-reprocess-task"
  description        = "RUN_DATE entry: the run worker's S3 access plus reading back reports/; no ECS access"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "reprocess" {
  source_policy_documents = [data.aws_iam_policy_document.run.json]

  statement {
    sid       = "ReadReports"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/reports/*"]
  }
}

resource "aws_iam_role_policy" "reprocess" {
  name   = "reprocess"
  role   = aws_iam_role.reprocess.id
  policy = data.aws_iam_policy_document.reprocess.json
}
