variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>): cluster name and prefix of services and task families."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, prod), passed to the containers as PIPELINE_ENVIRONMENT."
}

variable "image_repository_url" {
  type        = string
  description = "ECR repository URL of the project image (without tag)."
}

variable "image_tag" {
  type        = string
  description = "Image tag to deploy (the commit SHA pushed by the deploy workflow; tags are immutable)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid, immutable Docker tag (for example the commit SHA), never latest."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture the image is built for (X86_64 or ARM64)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the Cloud Map private DNS namespace."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets of every task (also DAGSTER_RUN_SUBNETS for run workers)."
}

variable "webserver_security_group_id" {
  type        = string
  description = "Security group of the webserver tasks."
}

variable "daemon_security_group_id" {
  type        = string
  description = "Security group of the daemon task."
}

variable "code_server_security_group_id" {
  type        = string
  description = "Security group of the code server tasks."
}

variable "run_security_group_id" {
  type        = string
  description = "Security group of run workers and reprocess tasks (DAGSTER_RUN_SECURITY_GROUP)."
}

variable "execution_role_arn" {
  type        = string
  description = "ECS task execution role of every task definition but db-setup's (image pull, logs; no secret)."
}

variable "db_setup_execution_role_arn" {
  type        = string
  description = "ECS task execution role of the db-setup task (image pull, logs, the database master secret)."
}

variable "webserver_task_role_arn" {
  type        = string
  description = "Task role of the webserver."
}

variable "daemon_task_role_arn" {
  type        = string
  description = "Task role of the daemon."
}

variable "code_server_task_role_arn" {
  type        = string
  description = "Task role of the code server."
}

variable "run_task_role_arn" {
  type        = string
  description = "Task role of the run worker."
}

variable "reprocess_task_role_arn" {
  type        = string
  description = "Task role of the RUN_DATE entry."
}

variable "ecs_infrastructure_role_arn" {
  type        = string
  description = "Role ECS assumes to shift ALB traffic during blue/green deployments."
}

variable "blue_target_group_arn" {
  type        = string
  description = "Target group the webserver service starts on."
}

variable "green_target_group_arn" {
  type        = string
  description = "Alternate target group of the webserver's blue/green deployments."
}

variable "production_listener_rule_arn" {
  type        = string
  description = "ALB listener rule whose forward weights ECS shifts during blue/green deployments."
}

variable "log_group_name" {
  type        = string
  description = "CloudWatch log group of every container (/ecs/<name>)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for ECS Exec session encryption settings of the cluster."
}

variable "data_bucket_name" {
  type        = string
  description = "Data bucket (PIPELINE_STORAGE_URL s3://<this>, DAGSTER_COMPUTE_LOG_BUCKET)."
}

variable "arrivals_queue_url" {
  type        = string
  description = "URL of the arrivals queue the raw_data sensor drains (PIPELINE_ARRIVALS_QUEUE_URL)."
}

variable "alert_topic_arn" {
  type        = string
  description = "SNS topic of run-failure alerts (PIPELINE_ALERT_TOPIC_ARN)."
}

variable "db_host" {
  type        = string
  description = "PostgreSQL host (DAGSTER_PG_HOST)."
}

variable "db_port" {
  type        = number
  description = "PostgreSQL port (DAGSTER_PG_PORT)."
  default     = 5432
}

variable "db_name" {
  type        = string
  description = "PostgreSQL database (DAGSTER_PG_DB)."
}

variable "db_app_username" {
  type        = string
  description = "PostgreSQL user every Dagster process logs in as with IAM authentication (DAGSTER_PG_USERNAME); db-setup creates it."

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_app_username))
    error_message = "db_app_username must be a lowercase PostgreSQL identifier (letters, digits, underscores; at most 63 characters)."
  }
}

variable "db_admin_username" {
  type        = string
  description = "RDS master user name, given only to the db-setup task (DAGSTER_PG_ADMIN_USERNAME)."
}

variable "db_master_secret_arn" {
  type        = string
  description = "RDS-managed master user secret; only the db-setup task gets its password key (DAGSTER_PG_ADMIN_PASSWORD)."
}

variable "run_task_family" {
  type        = string
  description = "Family of the run-worker task definition (DAGSTER_RUN_TASK_DEFINITION), <name>-run."
}

variable "reprocess_task_family" {
  type        = string
  description = "Family of the RUN_DATE task definition, <name>-reprocess."
}

variable "webserver_port" {
  type        = number
  description = "Port of dagster-webserver."
  default     = 3000
}

variable "code_server_port" {
  type        = number
  description = "gRPC port of the code server."
  default     = 4000
}

variable "service_discovery_namespace" {
  type        = string
  description = "Cloud Map private DNS namespace; the code server is code-server.<this>."
  default     = "pipeline.local"
}

variable "container_insights" {
  type        = string
  description = "Container Insights mode of the cluster (enhanced, enabled or disabled). Off, the services' CPU and memory utilization stay in ECS's free metrics."
  default     = "enhanced"

  validation {
    condition     = contains(["enhanced", "enabled", "disabled"], var.container_insights)
    error_message = "container_insights must be enhanced, enabled or disabled."
  }
}

variable "default_fargate_weight" {
  type        = number
  description = "Weight of FARGATE in the cluster's default capacity provider strategy."
  default     = 1
}

variable "default_fargate_spot_weight" {
  type        = number
  description = "Weight of FARGATE_SPOT in the cluster's default capacity provider strategy (0 disables Spot by default)."
  default     = 0

  validation {
    condition     = var.default_fargate_spot_weight >= 0
    error_message = "default_fargate_spot_weight must not be negative."
  }
}

variable "service_capacity_provider" {
  type        = string
  description = "Capacity provider of the three long-running services (FARGATE, or FARGATE_SPOT where interruptions are acceptable)."
  default     = "FARGATE"

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.service_capacity_provider)
    error_message = "service_capacity_provider must be FARGATE or FARGATE_SPOT."
  }
}

variable "webserver_cpu" {
  type        = number
  description = "CPU units of the webserver task."
  default     = 1024
}

variable "webserver_memory" {
  type        = number
  description = "Memory (MiB) of the webserver task."
  default     = 2048
}

variable "daemon_cpu" {
  type        = number
  description = "CPU units of the daemon task."
  default     = 512
}

variable "daemon_memory" {
  type        = number
  description = "Memory (MiB) of the daemon task."
  default     = 1024
}

variable "code_server_cpu" {
  type        = number
  description = "CPU units of the code server task."
  default     = 512
}

variable "code_server_memory" {
  type        = number
  description = "Memory (MiB) of the code server task."
  default     = 1024
}

variable "run_size_tiers" {
  type = list(object({
    min_bytes = number
    cpu       = number
    memory    = number
  }))
  description = "Fargate size of a run by its day's raw input bytes (PIPELINE_ECS_SIZE_TIERS): a day gets the last tier whose min_bytes it reaches; the first tier (min_bytes 0) is also the run-worker and RUN_DATE task definitions' size. CPU units, memory MiB."
  default = [
    { min_bytes = 0, cpu = 1024, memory = 4096 },
    { min_bytes = 5368709120, cpu = 2048, memory = 8192 },
    { min_bytes = 21474836480, cpu = 4096, memory = 16384 },
  ]

  validation {
    condition     = try(var.run_size_tiers[0].min_bytes, null) == 0
    error_message = "run_size_tiers must not be empty and its first tier must start at min_bytes 0, so that every day has a size."
  }

  validation {
    condition     = alltrue([for tier in var.run_size_tiers : tier.min_bytes >= 0 && floor(tier.min_bytes) == tier.min_bytes])
    error_message = "run_size_tiers: min_bytes must be a whole, non-negative number of bytes."
  }

  validation {
    condition     = alltrue([for i in range(1, max(1, length(var.run_size_tiers))) : var.run_size_tiers[i].min_bytes > var.run_size_tiers[i - 1].min_bytes])
    error_message = "run_size_tiers: min_bytes must strictly increase from one tier to the next."
  }

  validation {
    condition     = alltrue([for i in range(1, max(1, length(var.run_size_tiers))) : var.run_size_tiers[i].cpu >= var.run_size_tiers[i - 1].cpu && var.run_size_tiers[i].memory >= var.run_size_tiers[i - 1].memory])
    error_message = "run_size_tiers: a bigger day must not get less CPU or memory than the previous tier."
  }

  # Fargate (Linux) task sizes: CPU units -> the memory sizes (MiB) it accepts (as in pipeline_project/defs/sizing.py).
  validation {
    condition     = alltrue([for tier in var.run_size_tiers : contains(lookup(tomap({ "256" = [512, 1024, 2048], "512" = range(1024, 4097, 1024), "1024" = range(2048, 8193, 1024), "2048" = range(4096, 16385, 1024), "4096" = range(8192, 30721, 1024), "8192" = range(16384, 61441, 4096), "16384" = range(32768, 122881, 8192) }), tostring(tier.cpu), []), tier.memory)])
    error_message = "run_size_tiers: every cpu/memory pair must be a Fargate task size (cpu 256, 512, 1024, 2048, 4096, 8192 or 16384 with a memory that cpu accepts)."
  }
}

variable "run_ephemeral_storage_gib" {
  type        = number
  description = "Ephemeral storage of run workers and of a sharded run's step tasks (21-200 GiB): Parquet inputs are copied to /tmp (files up to PIPELINE_MAX_FILE_BYTES) and a scan spills its valid rows there, roughly its input's size (a shard of about shard_bytes, or a whole day below it)."
  default     = 50

  validation {
    condition     = var.run_ephemeral_storage_gib >= 21 && var.run_ephemeral_storage_gib <= 200
    error_message = "run_ephemeral_storage_gib must be between 21 and 200."
  }
}

variable "shard_bytes" {
  type        = number
  description = "A day above this many raw bytes is processed as parallel shards (PIPELINE_SHARD_BYTES), each a step task of its own."
  default     = 2147483648

  validation {
    condition     = var.shard_bytes >= 1
    error_message = "shard_bytes must be positive."
  }
}

variable "webserver_desired_count" {
  type        = number
  description = "Number of webserver tasks."
  default     = 1
}

variable "code_server_desired_count" {
  type        = number
  description = "Number of code server tasks."
  default     = 1
}

variable "blue_green_bake_time_minutes" {
  type        = number
  description = "Minutes the old webserver revision stays ready for an instant rollback after traffic moved to the new one."
  default     = 5

  validation {
    condition     = var.blue_green_bake_time_minutes >= 0 && var.blue_green_bake_time_minutes <= 1440
    error_message = "blue_green_bake_time_minutes must be between 0 and 1440."
  }
}

variable "readonly_root_filesystem" {
  type        = bool
  description = "Run every container with a read-only root filesystem (writable /tmp, DAGSTER_HOME and DAGSTER_HOME/storage volumes are mounted)."
  default     = true
}

variable "wait_for_steady_state" {
  type        = bool
  description = "Make terraform apply wait until the services are stable (the deploy workflow can wait itself)."
  default     = false
}
