output "execution_role_arn" {
  description = "ECS task execution role of the services, run workers and RUN_DATE tasks (image pull, logs; no secret)."
  value       = aws_iam_role.execution.arn
}

output "db_setup_execution_role_arn" {
  description = "ECS task execution role of the db-setup task (image pull, logs, the database master secret)."
  value       = aws_iam_role.db_setup_execution.arn
}

output "webserver_task_role_arn" {
  description = "Task role of the webserver."
  value       = aws_iam_role.webserver.arn
}

output "daemon_task_role_arn" {
  description = "Task role of the daemon."
  value       = aws_iam_role.daemon.arn
}

output "code_server_task_role_arn" {
  description = "Task role of the code server."
  value       = aws_iam_role.code_server.arn
}

output "run_task_role_arn" {
  description = "Task role of the run worker."
  value       = aws_iam_role.run.arn
}

output "reprocess_task_role_arn" {
  description = "Task role of the scheduled RUN_DATE entry."
  value       = aws_iam_role.reprocess.arn
}

output "ecs_infrastructure_role_arn" {
  description = "Role ECS assumes to shift ALB traffic during the webserver's blue/green deployments."
  value       = aws_iam_role.ecs_infrastructure.arn
}

output "deploy_role_arn" {
  description = "Role assumed by GitHub Actions through OIDC to push and roll out images."
  value       = aws_iam_role.deploy.arn
}
