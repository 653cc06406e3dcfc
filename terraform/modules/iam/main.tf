# IAM of one environment, one file per role with its policy: execution.tf (the ECS execution
# roles), run.tf (run worker and RUN_DATE entry), daemon.tf, webserver.tf, code_server.tf,
# ecs_infrastructure.tf and deploy.tf (GitHub Actions; deploy_refresh.tf its plan's read-only
# refresh). This file holds what they share: the ECS task trust policy and the capability
# documents several roles are built from (db_login, stop_run_tasks, launch_run_tasks). Every
# statement names its actions (no wildcards) and, wherever the action supports it, its resources.
# Each role gets exactly the AWS calls its code makes.

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
