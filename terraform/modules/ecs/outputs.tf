output "cluster_name" {
  description = "Name of the ECS cluster (DAGSTER_ECS_CLUSTER)."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_names" {
  description = "Names of the webserver, daemon and code server services."
  value       = { for key, service in aws_ecs_service.this : key => service.name }
}

output "task_definition_arns" {
  description = "Current task definition ARN (with revision) per task."
  value       = { for key, definition in aws_ecs_task_definition.this : key => definition.arn }
}

output "run_task_definition_family" {
  description = "Family of the run-worker task definition."
  value       = aws_ecs_task_definition.this["run"].family
}

output "reprocess_task_definition_arn" {
  description = "ARN of the RUN_DATE task definition without revision (latest active revision)."
  value       = aws_ecs_task_definition.this["reprocess"].arn_without_revision
}

output "db_setup_task_definition_arn" {
  description = "ARN of the db-setup task definition without revision, for aws ecs run-task by an administrator."
  value       = aws_ecs_task_definition.this["db-setup"].arn_without_revision
}

output "code_server_address" {
  description = "gRPC address of the code server."
  value       = "code-server.${aws_service_discovery_private_dns_namespace.this.name}:${var.code_server_port}"
}

output "environment" {
  description = "Plain environment of every container but db-setup's."
  value       = local.environment
}

output "size_tiers_setting" {
  description = "PIPELINE_ECS_SIZE_TIERS as the containers get it, rendered from run_size_tiers (MIN_BYTES:CPU/MEMORY,...)."
  value       = local.size_tiers_setting
}
