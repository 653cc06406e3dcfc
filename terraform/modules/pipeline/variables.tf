# Set per environment in its root's call of this module (terraform/environments/<env>/main.tf),
# except the account-specific values marked "supplied at plan time", which the root passes on
# from its own variables (TF_VAR_<name> in the deploy workflow, or -var on the command line).

variable "environment" {
  type        = string
  description = "Environment name: dev or prod. Resource names start with pipeline-<environment>."

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "aws_account_id" {
  type        = string
  description = "AWS account of the environment (supplied at plan time); the provider refuses any other account."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be a 12-digit AWS account ID."
  }
}

variable "github_repository" {
  type        = string
  description = "GitHub repository owner/name allowed to deploy (supplied at plan time)."
}

variable "image_tag" {
  type        = string
  description = "Image tag to run (commit SHA), passed by the deploy workflow with -var image_tag=<sha>."
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the image (X86_64 or ARM64)."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate of the UI host name (supplied at plan time)."
}

variable "hostname" {
  type        = string
  description = "Host name of the Dagster UI covered by the certificate; null uses the ALB DNS name."
  default     = null
}

variable "dns_zone_id" {
  type        = string
  description = "Private Route 53 zone receiving an alias record for hostname; null creates none."
  default     = null
}

variable "alb_oidc" {
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    scope                  = optional(string, "openid email")
    session_timeout        = optional(number, 28800)
  })
  description = "OIDC provider authenticating every UI request at the load balancer (supplied at plan time, TF_VAR_alb_oidc; required in every environment)."
  nullable    = false
}

variable "alb_oidc_client_secret" {
  type        = string
  description = "Client secret of the OIDC application (supplied at plan time, TF_VAR_alb_oidc_client_secret; required)."
  nullable    = false
  sensitive   = true
}

variable "operator_cidrs" {
  type        = list(string)
  description = "Operator networks (VPN client pools, office ranges) allowed to reach the internal ALB; checked by modules/network (non-empty, /16 or longer, never 0.0.0.0/0)."
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the environment's VPC."
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the private subnets (2 to 4)."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway (the ALB's route to the identity provider) for all zones instead of one per zone; tasks never route through it."
}

variable "nat_instance_type" {
  type        = string
  description = "Lean profile: one NAT instance of this type instead of NAT gateways and interface endpoints (modules/network); null keeps them."
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period of a scheduled deletion of the environment key."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the ECS, flow log and RDS log groups in days."
}

variable "access_log_retention_days" {
  type        = number
  description = "Retention of S3 and ALB access logs in days."
}

variable "deletion_protection" {
  type        = bool
  description = "Deletion protection of the database and the load balancer."
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
}

variable "db_performance_insights" {
  type        = bool
  description = "Performance Insights on the database (needs db.t4g.medium or larger)."
}

variable "db_allocated_storage_gb" {
  type        = number
  description = "Initial database storage in GiB."
}

variable "db_max_allocated_storage_gb" {
  type        = number
  description = "Database storage autoscaling limit in GiB."
}

variable "db_multi_az" {
  type        = bool
  description = "Synchronous standby database in a second zone."
}

variable "db_app_username" {
  type        = string
  description = "Database user Dagster logs in as with IAM authentication (created by the db-setup task)."
  default     = "dagster_app"
}

variable "db_backup_retention_days" {
  type        = number
  description = "Automated backup retention of the database in days."
}

variable "data_bucket_kms_key_arn" {
  type        = string
  description = "KMS key for SSE-KMS on the data bucket; null keeps SSE-S3."
  default     = null
}

variable "raw_data_infrequent_access_days" {
  type        = number
  description = "Days before raw-data/ objects move to STANDARD_IA."
}

variable "raw_data_archive_days" {
  type        = number
  description = "Days before raw-data/ objects move to the archive class."
}

variable "raw_data_archive_storage_class" {
  type        = string
  description = "Archive class of old raw data (GLACIER_IR, GLACIER or DEEP_ARCHIVE)."
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days before noncurrent object versions of the data bucket are deleted."
}

variable "compute_log_expiration_days" {
  type        = number
  description = "Days before Dagster compute logs expire."
}

variable "work_expiration_days" {
  type        = number
  description = "Days before work/ objects (sharded runs' intermediate files) of the data bucket are deleted."
  default     = 2
}

variable "ecr_keep_last_images" {
  type        = number
  description = "Images kept in the repository."
}

variable "container_insights" {
  type        = string
  description = "Container Insights mode of the cluster (enhanced, enabled or disabled)."
}

variable "service_capacity_provider" {
  type        = string
  description = "Capacity provider of the long-running services (FARGATE or FARGATE_SPOT)."
}

variable "default_fargate_spot_weight" {
  type        = number
  description = "Weight of FARGATE_SPOT (FARGATE has 1) in the cluster default strategy."
}

variable "webserver_cpu" {
  type        = number
  description = "CPU units of the webserver."
}

variable "webserver_memory" {
  type        = number
  description = "Memory (MiB) of the webserver."
}

variable "daemon_cpu" {
  type        = number
  description = "CPU units of the daemon."
}

variable "daemon_memory" {
  type        = number
  description = "Memory (MiB) of the daemon."
}

variable "code_server_cpu" {
  type        = number
  description = "CPU units of the code server."
}

variable "code_server_memory" {
  type        = number
  description = "Memory (MiB) of the code server."
}

variable "run_size_tiers" {
  type = list(object({
    min_bytes = number
    cpu       = number
    memory    = number
  }))
  description = "Run task sizes by the day's raw input bytes (PIPELINE_ECS_SIZE_TIERS): a day gets the last tier whose min_bytes it reaches; the first tier (min_bytes 0) is the run-worker and RUN_DATE task definitions' own size. CPU units, memory MiB."

  # Checked by modules/ecs, which takes it as it is.
}

variable "run_ephemeral_storage_gib" {
  type        = number
  description = "Ephemeral storage (GiB) of a run worker."
}

variable "shard_bytes" {
  type        = number
  description = "A day above this many raw bytes is processed as parallel shards (PIPELINE_SHARD_BYTES)."
  default     = 2147483648
}

variable "webserver_desired_count" {
  type        = number
  description = "Number of webserver tasks."
}

variable "code_server_desired_count" {
  type        = number
  description = "Number of code server tasks."
}

variable "blue_green_bake_time_minutes" {
  type        = number
  description = "Bake time of the webserver's blue/green deployments in minutes."
}

variable "wait_for_steady_state" {
  type        = bool
  description = "Make terraform apply wait for the services to become stable."
}

variable "run_duration_threshold_seconds" {
  type        = number
  description = "Alarm threshold of one partition's run duration in seconds."
}

variable "rejection_rate_threshold" {
  type        = number
  description = "Alarm threshold of one partition's rejection rate (0..1)."
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "E-mail subscribers of the alarm topic."
}

variable "enable_reprocess_schedule" {
  type        = bool
  description = "Start the RUN_DATE entry daily through EventBridge Scheduler."
}

variable "reprocess_schedule_expression" {
  type        = string
  description = "Schedule of the RUN_DATE entry (UTC)."
}
