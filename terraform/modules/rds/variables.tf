variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>); the instance is <name>-dagster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (two or more zones) for the DB subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "security_group_id" {
  type        = string
  description = "Security group of the instance (5432 from the ECS task groups only)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for storage, Performance Insights, the managed master secret and the exported log groups."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL engine version (major, or major.minor); minor upgrades are applied automatically."
  default     = "17"
}

variable "parameter_group_family" {
  type        = string
  description = "DB parameter group family matching engine_version (for example postgres17)."
  default     = "postgres17"
}

variable "instance_class" {
  type        = string
  description = "Instance class (db.t4g.medium or larger: Performance Insights needs it)."
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial gp3 storage in GiB."
  default     = 20

  validation {
    condition     = var.allocated_storage_gb >= 20
    error_message = "allocated_storage_gb must be at least 20."
  }
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Upper bound for storage autoscaling in GiB."
  default     = 100
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second zone."
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery window)."

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "backup_window" {
  type        = string
  description = "Daily backup window (UTC, hh24:mi-hh24:mi); kept away from the 01:00 UTC schedule."
  default     = "03:00-04:00"
}

variable "maintenance_window" {
  type        = string
  description = "Weekly maintenance window (UTC, ddd:hh24:mi-ddd:hh24:mi)."
  default     = "sun:04:30-sun:05:30"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse deletion of the instance (true in prod)."
}

variable "performance_insights" {
  type        = bool
  description = "Performance Insights (encrypted with kms_key_arn). Needs a db.t4g.medium or larger: dev's db.t4g.micro turns it off."
  default     = true
}

variable "performance_insights_retention_days" {
  type        = number
  description = "Performance Insights retention in days (7 is free; otherwise a multiple of 31, up to 731)."
  default     = 7
}

variable "monitoring_interval_seconds" {
  type        = number
  description = "Enhanced monitoring interval in seconds (1, 5, 10, 15, 30 or 60)."
  default     = 60

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.monitoring_interval_seconds)
    error_message = "monitoring_interval_seconds must be 1, 5, 10, 15, 30 or 60."
  }
}

variable "log_min_duration_statement_ms" {
  type        = number
  description = "Statements slower than this many milliseconds are logged."
  default     = 1000
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the exported PostgreSQL log groups in days."
}

variable "ca_cert_identifier" {
  type        = string
  description = "Certificate authority of the server certificate."
  default     = "rds-ca-rsa2048-g1"
}

variable "apply_immediately" {
  type        = bool
  description = "Apply modifications now instead of in the maintenance window."
  default     = false
}

variable "database_name" {
  type        = string
  description = "Database created for the Dagster instance (DAGSTER_PG_DB)."
  default     = "dagster"
}

variable "master_username" {
  type        = string
  description = "Master user name (DAGSTER_PG_ADMIN_USERNAME of the db-setup task only); its password lives in the RDS-managed secret, rotated by RDS every 7 days."
  default     = "dagster"
}
