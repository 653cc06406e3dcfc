# What modules/pipeline reports, under the same names (terraform output -raw <name>).

output "dagster_url" {
  description = "URL of the Dagster UI (internal load balancer)."
  value       = module.pipeline.dagster_url
}

output "data_bucket" {
  description = "Data bucket of the environment."
  value       = module.pipeline.data_bucket
}

output "storage_url" {
  description = "PIPELINE_STORAGE_URL of the environment."
  value       = module.pipeline.storage_url
}

output "ecr_repository_url" {
  description = "Repository the deploy workflow pushes the image to."
  value       = module.pipeline.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster (DAGSTER_ECS_CLUSTER)."
  value       = module.pipeline.ecs_cluster_name
}

output "ecs_service_names" {
  description = "Webserver, daemon and code server services."
  value       = module.pipeline.ecs_service_names
}

output "run_task_definition_family" {
  description = "Run-worker task definition family (DAGSTER_RUN_TASK_DEFINITION)."
  value       = module.pipeline.run_task_definition_family
}

output "reprocess_task_definition_arn" {
  description = "RUN_DATE task definition (ARN without revision) for aws ecs run-task."
  value       = module.pipeline.reprocess_task_definition_arn
}

output "db_setup_task_definition_arn" {
  description = "db-setup task definition (ARN without revision): aws ecs run-task once, after the first apply, to create the app user."
  value       = module.pipeline.db_setup_task_definition_arn
}

output "db_setup_security_group_id" {
  description = "Security group for the db-setup task's aws ecs run-task (with run_subnet_ids)."
  value       = module.pipeline.db_setup_security_group_id
}

output "db_app_username" {
  description = "Database user of every Dagster process (IAM database authentication)."
  value       = module.pipeline.db_app_username
}

output "alb_nat_public_ips" {
  description = "Public addresses the ALB calls the OIDC identity provider from."
  value       = module.pipeline.alb_nat_public_ips
}

output "run_subnet_ids" {
  description = "Private subnets of run tasks (DAGSTER_RUN_SUBNETS)."
  value       = module.pipeline.run_subnet_ids
}

output "run_security_group_id" {
  description = "Security group of run tasks (DAGSTER_RUN_SECURITY_GROUP)."
  value       = module.pipeline.run_security_group_id
}

output "log_group_name" {
  description = "Log group of every container."
  value       = module.pipeline.log_group_name
}

output "alarm_topic_arn" {
  description = "Alarm topic (PIPELINE_ALERT_TOPIC_ARN); subscribe on-call here."
  value       = module.pipeline.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the environment."
  value       = module.pipeline.dashboard_name
}

output "deploy_role_arn" {
  description = "Role the GitHub deploy workflow assumes (aws-actions/configure-aws-credentials role-to-assume)."
  value       = module.pipeline.deploy_role_arn
}

output "db_address" {
  description = "PostgreSQL host of the Dagster instance."
  value       = module.pipeline.db_address
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret of the database master password (managed and rotated by RDS; only the db-setup task reads it)."
  value       = module.pipeline.db_master_secret_arn
}

output "code_server_address" {
  description = "gRPC address of the code server (deploy/workspace.yaml)."
  value       = module.pipeline.code_server_address
}

output "reprocess_dead_letter_queue_url" {
  description = "Dead-letter queue of the optional reprocess schedule, or null."
  value       = module.pipeline.reprocess_dead_letter_queue_url
}

output "arrivals_queue_url" {
  description = "Queue of S3 arrival events the raw_data sensor drains (PIPELINE_ARRIVALS_QUEUE_URL)."
  value       = module.pipeline.arrivals_queue_url
}

output "arrivals_queue_arn" {
  description = "ARN of the arrivals queue (destination of a dead-letter replay)."
  value       = module.pipeline.arrivals_queue_arn
}

output "arrivals_dlq_url" {
  description = "Dead-letter queue of the arrivals queue and of the rule's failed deliveries."
  value       = module.pipeline.arrivals_dlq_url
}

output "arrivals_dlq_arn" {
  description = "ARN of the arrivals dead-letter queue (source of a replay)."
  value       = module.pipeline.arrivals_dlq_arn
}
