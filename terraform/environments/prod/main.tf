# prod: zone-redundant network and database, deletion protection, longer retention. The root is
# its backend, its provider and one call of the stack (modules/pipeline) with this environment's
# values. Supplied at plan time, never in this file (variables.tf): the account-specific values
# (aws_account_id, github_repository, certificate_arn), the OIDC login of the UI (alb_oidc,
# alb_oidc_client_secret: TF_VAR_*, required in every environment) and image_tag.

terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.4"
    }
  }

  # Remote state in the bucket created by terraform/bootstrap, with S3-native locking. The bucket
  # and region are given at init, for example:
  #   terraform init -backend-config="bucket=pipeline-tfstate-<account id>" -backend-config="region=<region>"
  backend "s3" {
    key          = "pipeline/prod/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
  }
}

provider "aws" {
  region              = "eu-west-1"
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      Project     = "pipeline"
      Environment = "prod"
      ManagedBy   = "terraform"
      Repository  = var.github_repository
    }
  }
}

module "pipeline" {
  source = "../../modules/pipeline"

  aws_account_id         = var.aws_account_id
  github_repository      = var.github_repository
  certificate_arn        = var.certificate_arn
  image_tag              = var.image_tag
  alb_oidc               = var.alb_oidc
  alb_oidc_client_secret = var.alb_oidc_client_secret

  environment        = "prod"
  availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  vpc_cidr           = "10.41.0.0/16"
  single_nat_gateway = false
  nat_instance_type  = null
  cpu_architecture   = "X86_64"

  # Operator networks that reach the UI (internal ALB). Placeholders (the VPN client pool): replace
  # them with the real VPN / office ranges before the first apply; each /16 or longer.
  operator_cidrs = ["10.200.0.0/16"]

  kms_deletion_window_days  = 30
  log_retention_days        = 400
  access_log_retention_days = 400
  deletion_protection       = true

  db_instance_class           = "db.m7g.large"
  db_allocated_storage_gb     = 50
  db_max_allocated_storage_gb = 500
  db_performance_insights     = true
  db_multi_az                 = true
  db_backup_retention_days    = 35

  raw_data_infrequent_access_days    = 30
  raw_data_archive_days              = 120
  raw_data_archive_storage_class     = "GLACIER_IR"
  noncurrent_version_expiration_days = 90
  compute_log_expiration_days        = 90
  ecr_keep_last_images               = 50

  container_insights           = "enhanced"
  service_capacity_provider    = "FARGATE"
  default_fargate_spot_weight  = 0
  webserver_cpu                = 1024
  webserver_memory             = 2048
  daemon_cpu                   = 512
  daemon_memory                = 2048
  code_server_cpu              = 512
  code_server_memory           = 2048
  run_ephemeral_storage_gib    = 100
  webserver_desired_count      = 2
  code_server_desired_count    = 2
  blue_green_bake_time_minutes = 10
  wait_for_steady_state        = false

  # Run sizes by the day's raw input bytes (PIPELINE_ECS_SIZE_TIERS); the first is the task definitions'.
  run_size_tiers = [
    { min_bytes = 0, cpu = 2048, memory = 8192 },
    { min_bytes = 5368709120, cpu = 4096, memory = 16384 },  # 5 GiB
    { min_bytes = 21474836480, cpu = 8192, memory = 32768 }, # 20 GiB
  ]

  run_duration_threshold_seconds = 2700
  rejection_rate_threshold       = 0.05
  alarm_email_addresses          = []

  enable_reprocess_schedule     = false
  reprocess_schedule_expression = "cron(0 2 * * ? *)"
}
