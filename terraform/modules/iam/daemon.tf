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
