# One environment of the pipeline: the composition of the modules that dev and prod share. Each
# environment root (terraform/environments/<env>/main.tf) is its backend, its provider and one
# call of this module with its values; nothing of the stack is written twice.

locals {
  name                  = "pipeline-${var.environment}"
  run_task_family       = "${local.name}-run"
  reprocess_task_family = "${local.name}-reprocess"
  service_names = {
    webserver   = "${local.name}-webserver"
    daemon      = "${local.name}-daemon"
    code_server = "${local.name}-code-server"
  }
  # Must match backend.tf; terraform/bootstrap names the bucket pipeline-tfstate-<account id>.
  state_bucket = "pipeline-tfstate-${var.aws_account_id}"
  state_key    = "pipeline/${var.environment}/terraform.tfstate"
}

module "kms" {
  source = "../kms"

  name                    = local.name
  deletion_window_in_days = var.kms_deletion_window_days
}

module "network" {
  source = "../network"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  nat_instance_type       = var.nat_instance_type
  operator_cidrs          = var.operator_cidrs
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = module.kms.key_arn
}

module "log_bucket" {
  source = "../log_bucket"

  name           = local.name
  retention_days = var.access_log_retention_days
}

module "data_bucket" {
  source = "../data_bucket"

  name                               = local.name
  kms_key_arn                        = var.data_bucket_kms_key_arn
  access_log_bucket                  = module.log_bucket.bucket_id
  access_log_prefix                  = module.log_bucket.s3_access_log_prefix
  raw_data_infrequent_access_days    = var.raw_data_infrequent_access_days
  raw_data_archive_days              = var.raw_data_archive_days
  raw_data_archive_storage_class     = var.raw_data_archive_storage_class
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  compute_log_expiration_days        = var.compute_log_expiration_days
  work_expiration_days               = var.work_expiration_days
}

module "ecr" {
  source = "../ecr"

  name             = local.name
  kms_key_arn      = module.kms.key_arn
  keep_last_images = var.ecr_keep_last_images
}

module "rds" {
  source = "../rds"

  name                     = local.name
  subnet_ids               = module.network.private_subnet_ids
  security_group_id        = module.network.rds_security_group_id
  kms_key_arn              = module.kms.key_arn
  instance_class           = var.db_instance_class
  allocated_storage_gb     = var.db_allocated_storage_gb
  max_allocated_storage_gb = var.db_max_allocated_storage_gb
  multi_az                 = var.db_multi_az
  performance_insights     = var.db_performance_insights
  backup_retention_days    = var.db_backup_retention_days
  deletion_protection      = var.deletion_protection
  log_retention_days       = var.log_retention_days
}

# run_task_families leaves out db-setup: an administrator starts it by hand and watches its exit
# code; its container is not "run" either, so only a failed start would match the run-failure
# rule and page on-call for someone's session.
module "observability" {
  source = "../observability"

  name                           = local.name
  environment                    = var.environment
  kms_key_arn                    = module.kms.key_arn
  log_retention_days             = var.log_retention_days
  cluster_name                   = local.name
  daemon_service_name            = local.service_names.daemon
  service_names                  = values(local.service_names)
  run_task_families              = [local.run_task_family, local.reprocess_task_family]
  run_duration_threshold_seconds = var.run_duration_threshold_seconds
  rejection_rate_threshold       = var.rejection_rate_threshold
  alarm_email_addresses          = var.alarm_email_addresses
}

# S3 -> EventBridge -> SQS: the raw_data sensor drains the queue (and still lists now and then).
module "arrivals" {
  source = "../arrivals"

  name             = local.name
  data_bucket_name = module.data_bucket.bucket_id
  kms_key_arn      = module.kms.key_arn
  alarm_topic_arn  = module.observability.alarm_topic_arn
}

module "iam" {
  source = "../iam"

  name                    = local.name
  cluster_name            = local.name
  run_task_family         = local.run_task_family
  service_names           = values(local.service_names)
  data_bucket_arn         = module.data_bucket.bucket_arn
  data_bucket_kms_key_arn = module.data_bucket.kms_key_arn
  ecr_repository_arn      = module.ecr.repository_arn
  log_group_arn           = module.observability.log_group_arn
  db_master_secret_arn    = module.rds.master_user_secret_arn
  db_resource_id          = module.rds.resource_id
  db_app_username         = var.db_app_username
  kms_key_arn             = module.kms.key_arn
  alert_topic_arn         = module.observability.alarm_topic_arn
  arrivals_queue_arn      = module.arrivals.queue_arn
  github_repository       = var.github_repository
  github_environment      = var.environment
  terraform_state_bucket  = local.state_bucket
  terraform_state_key     = local.state_key
}

module "alb" {
  source = "../alb"

  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.alb_subnet_ids
  security_group_id   = module.network.alb_security_group_id
  certificate_arn     = var.certificate_arn
  access_log_bucket   = module.log_bucket.bucket_id
  access_log_prefix   = module.log_bucket.alb_log_prefix
  deletion_protection = var.deletion_protection
  oidc                = var.alb_oidc
  oidc_client_secret  = var.alb_oidc_client_secret
  dns_zone_id         = var.dns_zone_id
  hostname            = var.hostname
}

module "ecs" {
  source = "../ecs"

  name                          = local.name
  environment                   = var.environment
  image_repository_url          = module.ecr.repository_url
  image_tag                     = var.image_tag
  cpu_architecture              = var.cpu_architecture
  vpc_id                        = module.network.vpc_id
  private_subnet_ids            = module.network.private_subnet_ids
  webserver_security_group_id   = module.network.webserver_security_group_id
  daemon_security_group_id      = module.network.daemon_security_group_id
  code_server_security_group_id = module.network.code_server_security_group_id
  run_security_group_id         = module.network.run_worker_security_group_id
  execution_role_arn            = module.iam.execution_role_arn
  db_setup_execution_role_arn   = module.iam.db_setup_execution_role_arn
  webserver_task_role_arn       = module.iam.webserver_task_role_arn
  daemon_task_role_arn          = module.iam.daemon_task_role_arn
  code_server_task_role_arn     = module.iam.code_server_task_role_arn
  run_task_role_arn             = module.iam.run_task_role_arn
  reprocess_task_role_arn       = module.iam.reprocess_task_role_arn
  ecs_infrastructure_role_arn   = module.iam.ecs_infrastructure_role_arn
  blue_target_group_arn         = module.alb.blue_target_group_arn
  green_target_group_arn        = module.alb.green_target_group_arn
  production_listener_rule_arn  = module.alb.production_listener_rule_arn
  log_group_name                = module.observability.log_group_name
  kms_key_arn                   = module.kms.key_arn
  data_bucket_name              = module.data_bucket.bucket_id
  alert_topic_arn               = module.observability.alarm_topic_arn
  arrivals_queue_url            = module.arrivals.queue_url
  db_host                       = module.rds.address
  db_port                       = module.rds.port
  db_name                       = module.rds.database_name
  db_app_username               = var.db_app_username
  db_admin_username             = module.rds.username
  db_master_secret_arn          = module.rds.master_user_secret_arn
  run_task_family               = local.run_task_family
  reprocess_task_family         = local.reprocess_task_family
  container_insights            = var.container_insights
  service_capacity_provider     = var.service_capacity_provider
  default_fargate_spot_weight   = var.default_fargate_spot_weight
  webserver_cpu                 = var.webserver_cpu
  webserver_memory              = var.webserver_memory
  daemon_cpu                    = var.daemon_cpu
  daemon_memory                 = var.daemon_memory
  code_server_cpu               = var.code_server_cpu
  code_server_memory            = var.code_server_memory
  run_size_tiers                = var.run_size_tiers
  run_ephemeral_storage_gib     = var.run_ephemeral_storage_gib
  shard_bytes                   = var.shard_bytes
  webserver_desired_count       = var.webserver_desired_count
  code_server_desired_count     = var.code_server_desired_count
  blue_green_bake_time_minutes  = var.blue_green_bake_time_minutes
  wait_for_steady_state         = var.wait_for_steady_state
}

module "scheduler" {
  source = "../scheduler"

  name                  = local.name
  enabled               = var.enable_reprocess_schedule
  schedule_expression   = var.reprocess_schedule_expression
  cluster_name          = module.ecs.cluster_name
  cluster_arn           = module.ecs.cluster_arn
  reprocess_task_family = local.reprocess_task_family
  task_definition_arn   = module.ecs.reprocess_task_definition_arn
  task_role_arn         = module.iam.reprocess_task_role_arn
  execution_role_arn    = module.iam.execution_role_arn
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.run_worker_security_group_id
  kms_key_arn           = module.kms.key_arn
  alarm_topic_arn       = module.observability.alarm_topic_arn
}
