# dev: the lean profile (docs/deploy.md section 11): small, cheap, easy to tear down. The root is
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
    key          = "pipeline/dev/terraform.tfstate"
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
      Environment = "dev"
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

  environment        = "dev"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
  vpc_cidr           = "10.40.0.0/16"
  single_nat_gateway = true
  nat_instance_type  = "t4g.nano"
  cpu_architecture   = "X86_64"

  # Operator networks that reach the UI (internal ALB). Placeholders (the VPN client pool): replace
  # them with the real VPN / office ranges before the first apply; each /16 or longer.
  operator_cidrs = ["10.200.0.0/16"]

  kms_deletion_window_days  = 7
  log_retention_days        = 30
  access_log_retention_days = 90
  deletion_protection       = false

  db_instance_class           = "db.t4g.micro"
  db_allocated_storage_gb     = 20
  db_max_allocated_storage_gb = 50
  db_performance_insights     = false
  db_multi_az                 = false
  db_backup_retention_days    = 7

  raw_data_infrequent_access_days    = 30
  raw_data_archive_days              = 90
  raw_data_archive_storage_class     = "GLACIER_IR"
  noncurrent_version_expiration_days = 30
  compute_log_expiration_days        = 30
  ecr_keep_last_images               = 20

  container_insights           = "disabled"
  service_capacity_provider    = "FARGATE_SPOT"
  default_fargate_spot_weight  = 1
  webserver_cpu                = 256
  webserver_memory             = 1024
  daemon_cpu                   = 256
  daemon_memory                = 1024
  code_server_cpu              = 256
  code_server_memory           = 1024
  run_ephemeral_storage_gib    = 30
  webserver_desired_count      = 1
  code_server_desired_count    = 1
  blue_green_bake_time_minutes = 0
  wait_for_steady_state        = false

  # Run sizes by the day's raw input bytes (PIPELINE_ECS_SIZE_TIERS); the first is the task definitions'.
  run_size_tiers = [
    { min_bytes = 0, cpu = 1024, memory = 4096 },
    { min_bytes = 5368709120, cpu = 2048, memory = 8192 },   # 5 GiB
    { min_bytes = 21474836480, cpu = 4096, memory = 16384 }, # 20 GiB
  ]

  run_duration_threshold_seconds = 3600
  rejection_rate_threshold       = 0.2
  alarm_email_addresses          = []

  enable_reprocess_schedule     = false
  reprocess_schedule_expression = "cron(0 2 * * ? *)"
}
