# IAM of one environment: the ECS execution roles (one for every service and run task, one for
# the db-setup task, the only reader of the database master secret), one task role per workload,
# the ECS infrastructure role for the webserver's blue/green deployments, and the GitHub Actions
# deploy role. Every statement names its actions (no wildcards) and, wherever the action supports
# it, its resources. Each role gets exactly the AWS calls its code makes.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  ecs_arn              = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
  cluster_arn          = "${local.ecs_arn}:cluster/${var.cluster_name}"
  cluster_tasks_arn    = "${local.ecs_arn}:task/${var.cluster_name}/*"
  run_task_definitions = "${local.ecs_arn}:task-definition/${var.run_task_family}:*"
  log_streams_arn      = "${var.log_group_arn}:log-stream:*"
  bucket_arn           = var.data_bucket_arn
  bucket_kms           = var.data_bucket_kms_key_arn == null ? [] : [var.data_bucket_kms_key_arn]
  s3_via_service       = "s3.${local.region}.amazonaws.com"

  # IAM database authentication: every Dagster process logs in as the app user with a token
  # signed by its task role (no password anywhere).
  db_app_user_arn = "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${var.db_resource_id}/${var.db_app_username}"

  # Roles the deploy role may hand to new task definition revisions (db-setup has no task role).
  task_roles = [
    aws_iam_role.execution.arn,
    aws_iam_role.db_setup_execution.arn,
    aws_iam_role.webserver.arn,
    aws_iam_role.daemon.arn,
    aws_iam_role.code_server.arn,
    aws_iam_role.run.arn,
    aws_iam_role.reprocess.arn,
  ]

  # Only jobs of the protected GitHub environment (its deployment-branch rule admits main only,
  # configured in GitHub): a workflow on any branch, even main, without the environment gets no
  # token this role trusts.
  github_subjects = ["repo:${var.github_repository}:environment:${var.github_environment}"]
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.ecs_arn}:*"]
    }
  }
}

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

# ---------------------------------------------------------------------------------------------
# Run worker: one Fargate task per Dagster run, and one per step of a sharded run (same task
# definition, same role). Reads raw-data/, writes reports/, quarantine/ and compute-logs/, keeps
# the shards' intermediate files under work/, and nothing else (it can never modify or delete raw
# data). Only this role may also start the step tasks of its own run (launch_run_tasks below).
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

# Every process of Dagster logs in to PostgreSQL as the app user with an IAM token (no password).
data "aws_iam_policy_document" "db_login" {
  statement {
    sid       = "ConnectToTheDatabaseAsTheAppUser"
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = [local.db_app_user_arn]
  }
}

# Terminating runs, as the EcsRunLauncher does (webserver, daemon) and as the ecs_executor does
# for a terminated run's step tasks (run worker): describe the task, stop it. The launcher's
# constructor also resolves DAGSTER_RUN_TASK_DEFINITION (no resource-level permissions there).
data "aws_iam_policy_document" "stop_run_tasks" {
  # The run worker also describes its own task once at start.
  statement {
    sid       = "WatchTasksOfTheCluster"
    effect    = "Allow"
    actions   = ["ecs:DescribeTasks"]
    resources = [local.cluster_tasks_arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }

  # StopTask only on tasks tagged dagster/run_id (the launcher tags every run and step task with
  # it): never a service's task or the db-setup task, whatever a run's ecs/task_arn tag says.
  # StopTask acts on the task resource type, whose condition keys include
  # aws:ResourceTag/${TagKey} (Service Authorization Reference, Amazon ECS).
  statement {
    sid       = "StopRunTasks"
    effect    = "Allow"
    actions   = ["ecs:StopTask"]
    resources = [local.cluster_tasks_arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/dagster/run_id"
      values   = ["false"]
    }
  }

  statement {
    sid       = "ResolveTheRunTaskDefinition"
    effect    = "Allow"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
}

# Starting tasks of the run-worker task definition (container overrides only), as the daemon
# does for runs and a sharded run's worker (dagster_aws's ecs_executor) for its steps, and
# stopping them. No task definition registration (the run worker's comes from Terraform), no
# network interface lookups (deploy/dagster.yaml sets use_current_ecs_task_config to false).
data "aws_iam_policy_document" "launch_run_tasks" {
  source_policy_documents = [data.aws_iam_policy_document.stop_run_tasks.json]

  statement {
    sid       = "RunTheRunWorkerTaskDefinition"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = [local.run_task_definitions]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }

  # RunTask passes the run's tags (dagster/run_id, dagster/step-key, ...): tagging only at
  # launch, only tasks.
  statement {
    sid       = "TagRunTasksAtLaunch"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = [local.cluster_tasks_arn]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "PassOnlyTheRunRoles"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.run.arn, aws_iam_role.execution.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
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

# ---------------------------------------------------------------------------------------------
# Daemon: launches, watches and stops run tasks through the EcsRunLauncher (run queue, run
# monitoring). Exactly the launcher's calls: no task definition registration (the run worker's
# comes from Terraform), no network interface lookups (use_current_ecs_task_config is false).
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "run_launcher" {
  source_policy_documents = [
    data.aws_iam_policy_document.launch_run_tasks.json,
    data.aws_iam_policy_document.db_login.json,
  ]

  # Run monitoring reads a failed run task's last log lines for the run's failure reason.
  statement {
    sid       = "ReadRunLogsOnFailure"
    effect    = "Allow"
    actions   = ["logs:GetLogEvents"]
    resources = [local.log_streams_arn]
  }
}

resource "aws_iam_role" "daemon" {
  name               = "${var.name}-daemon-task"
  description        = "Dagster daemon: launch, monitor and stop run tasks"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "daemon" {
  name   = "run-launcher"
  role   = aws_iam_role.daemon.id
  policy = data.aws_iam_policy_document.run_launcher.json
}

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

# ---------------------------------------------------------------------------------------------
# ECS infrastructure role: ECS shifts the webserver's ALB traffic during blue/green deployments.
# The AWS managed policy is the documented, AWS-maintained permission set for exactly this role.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_infrastructure_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "ecs_infrastructure" {
  name               = "${var.name}-ecs-infrastructure"
  description        = "ECS: shift ALB traffic between blue and green target groups of the webserver"
  assume_role_policy = data.aws_iam_policy_document.ecs_infrastructure_assume.json
}

resource "aws_iam_role_policy_attachment" "ecs_infrastructure" {
  role       = aws_iam_role.ecs_infrastructure.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}

# ---------------------------------------------------------------------------------------------
# GitHub Actions deploy role (OIDC). Trusted only for this repository's protected environment. It pushes images and rolls them out: terraform apply of
# a new image tag (read the stack, register task definitions, update services). Changes to the
# rest of the infrastructure are applied by an administrator, not by CI.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "deploy_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [data.aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.github_subjects
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-github-deploy"
  description          = "GitHub Actions (${var.github_repository}, environment ${var.github_environment}): push images, roll them out"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid    = "PushTheImage"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImageScanFindings",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:GetLifecyclePolicy",
      "ecr:InitiateLayerUpload",
      "ecr:ListTagsForResource",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "TerraformStateListing"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.terraform_state_bucket}"]

    # The S3 backend lists its workspaces under env:/ at init; no such objects exist here.
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.terraform_state_key, "${var.terraform_state_key}.tflock", "env:/", "env:/*"]
    }
  }

  statement {
    sid     = "TerraformStateAndLock"
    effect  = "Allow"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      "arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key}",
      "arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key}.tflock",
    ]
  }

  statement {
    sid    = "RollOutTaskDefinitions"
    effect = "Allow"
    actions = [
      "ecs:DeregisterTaskDefinition",
      "ecs:DescribeTaskDefinition",
      "ecs:RegisterTaskDefinition",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "TagNewTaskDefinitions"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = ["${local.ecs_arn}:task-definition/${var.name}-*:*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  statement {
    sid       = "UpdateAndWatchServices"
    effect    = "Allow"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService", "ecs:ListTagsForResource"]
    resources = [for service in var.service_names : "${local.ecs_arn}:service/${var.cluster_name}/${service}"]
  }

  statement {
    sid       = "PassTheTaskRoles"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = local.task_roles

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "PassTheEcsInfrastructureRole"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.ecs_infrastructure.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs.amazonaws.com"]
    }
  }

  # terraform plan refreshes every resource of the stack: read-only calls, scoped to the
  # environment's resources wherever the action supports resource-level permissions.
  statement {
    sid    = "RefreshActionsWithoutResourceLevelPermissions"
    effect = "Allow"
    actions = [
      "ec2:DescribeAddresses",
      "ec2:DescribeAddressesAttribute",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeFlowLogs",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceCreditSpecifications",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeNatGateways",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribePrefixLists",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeTags",
      "ec2:DescribeVolumes",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeVpcs",
      "elasticloadbalancing:DescribeCapacityReservation",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetGroups",
      "iam:ListOpenIDConnectProviders",
      "kms:ListAliases",
      "logs:DescribeLogGroups",
      "servicediscovery:GetOperation",
    ]
    resources = ["*"]
  }

  statement {
    sid    = "RefreshEnvironmentResources"
    effect = "Allow"
    actions = [
      "cloudwatch:DescribeAlarms",
      "cloudwatch:GetDashboard",
      "cloudwatch:ListTagsForResource",
      "ecs:DescribeCapacityProviders",
      "ecs:DescribeClusters",
      "ecs:ListTagsForResource",
      "events:DescribeRule",
      "events:ListTagsForResource",
      "events:ListTargetsByRule",
      "iam:GetOpenIDConnectProvider",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "logs:ListTagsForResource",
      "ec2:DescribeInstanceAttribute",
      "ec2:DescribeVpcAttribute",
      "rds:DescribeDBInstances",
      "rds:DescribeDBParameterGroups",
      "rds:DescribeDBParameters",
      "rds:DescribeDBSubnetGroups",
      "rds:ListTagsForResource",
      "route53:GetHostedZone",
      "route53:ListResourceRecordSets",
      "scheduler:GetSchedule",
      "servicediscovery:GetNamespace",
      "servicediscovery:GetService",
      "servicediscovery:ListTagsForResource",
      "sns:GetSubscriptionAttributes",
      "sns:GetTopicAttributes",
      "sns:ListTagsForResource",
      "sqs:GetQueueAttributes",
      "sqs:ListQueueTags",
    ]
    resources = [
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.name}",
      local.cluster_arn,
      "${local.ecs_arn}:capacity-provider/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/*",
      "${local.ecs_arn}:task-definition/${var.name}-*:*",
      "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-*",
      "arn:${local.partition}:iam::${local.account_id}:oidc-provider/*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name}-*",
      var.kms_key_arn,
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.name}*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/vpc/${var.name}/*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/rds/instance/${var.name}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:${var.name}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:pg:${var.name}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:subgrp:${var.name}-*",
      "arn:${local.partition}:route53:::hostedzone/*",
      "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${var.name}-*",
      "arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:namespace/*",
      "arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:service/*",
      "arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.name}-*",
      "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${var.name}-*",
    ]
  }

  statement {
    sid    = "RefreshEnvironmentBuckets"
    effect = "Allow"
    actions = [
      "s3:ListBucket",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLocation",
      "s3:GetBucketLogging",
      "s3:GetBucketNotification",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
    ]
    resources = ["arn:${local.partition}:s3:::${var.name}-*"]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "push-and-roll-out"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
