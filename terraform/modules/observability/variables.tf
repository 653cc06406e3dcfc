variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>); the ECS log group is /ecs/<name>."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, prod): the value of the Environment metric dimension (PIPELINE_ENVIRONMENT)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the log group and the alarm topic."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the /ecs/<name> log group in days (a value CloudWatch Logs accepts)."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports (for example 30, 90, 365, 400)."
  }
}

variable "cluster_name" {
  type        = string
  description = "Name of the ECS cluster whose run tasks are watched."
}

variable "daemon_service_name" {
  type        = string
  description = "Name of the Dagster daemon ECS service (alarm when it has no running task)."
}

variable "service_names" {
  type        = list(string)
  description = "ECS services shown on the dashboard."
}

variable "run_task_families" {
  type        = list(string)
  description = "Task definition families whose stopped tasks are checked for a failed run container (run worker and reprocess)."
}

variable "run_container_name" {
  type        = string
  description = "Name of the run container in those task definitions."
  default     = "run"
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the pipeline's EMF metrics."
  default     = "PipelineProject"
}

variable "run_duration_threshold_seconds" {
  type        = number
  description = "Alarm when one partition's RunDurationSeconds exceeds this."
}

variable "rejection_rate_threshold" {
  type        = number
  description = "Alarm when one partition's RejectionRate (0..1) exceeds this."

  validation {
    condition     = var.rejection_rate_threshold > 0 && var.rejection_rate_threshold < 1
    error_message = "rejection_rate_threshold is a ratio between 0 and 1."
  }
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  default     = []
}
