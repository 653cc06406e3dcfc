# ---------------------------------------------------------------------------------------------
# Execution role: what the ECS agent needs to start the services, run workers and RUN_DATE tasks.
# None of them gets a secret any more (IAM database authentication).
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  description        = "ECS agent: pull the image, write logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid    = "PullTheImage"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "WriteContainerLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [var.log_group_arn, local.log_streams_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "ecs-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The one-off db-setup task (started by an administrator with aws ecs run-task): the same image
# pull and logs, plus the master password ECS injects as DAGSTER_PG_ADMIN_PASSWORD. It has no
# task role: creating the app user is plain SQL, no AWS call.
resource "aws_iam_role" "db_setup_execution" {
  name               = "${var.name}-db-setup-execution"
  description        = "ECS agent for the db-setup task: pull the image, write logs, inject the database master password"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "db_setup_execution" {
  source_policy_documents = [data.aws_iam_policy_document.execution.json]

  statement {
    sid       = "ReadDatabaseMasterPassword"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_master_secret_arn]
  }

  statement {
    sid       = "DecryptDatabaseMasterPassword"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "db_setup_execution" {
  name   = "db-setup-execution"
  role   = aws_iam_role.db_setup_execution.id
  policy = data.aws_iam_policy_document.db_setup_execution.json
}
