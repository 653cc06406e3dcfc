variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>)."
}

variable "enabled" {
  type        = bool
  description = "Create the daily EventBridge Scheduler trigger of the reprocess task (off by default: Dagster's own schedule and sensor drive the pipeline)."
  default     = false
}

variable "schedule_expression" {
  type        = string
  description = "When the reprocess task starts (EventBridge Scheduler expression, evaluated in UTC)."
  default     = "cron(0 2 * * ? *)"
}

variable "cluster_name" {
  type        = string
  description = "Name of the ECS cluster."
}

variable "cluster_arn" {
  type        = string
  description = "ARN of the ECS cluster the task runs in."
}

variable "reprocess_task_family" {
  type        = string
  description = "Task definition family of the RUN_DATE entry (<name>-reprocess)."
}

variable "task_definition_arn" {
  type        = string
  description = "ARN of the reprocess task definition without revision (the latest active revision runs)."
}

variable "task_role_arn" {
  type        = string
  description = "Task role of the reprocess task definition (passed to ECS at launch)."
}

variable "execution_role_arn" {
  type        = string
  description = "Execution role of the reprocess task definition (passed to ECS at launch)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the task."
}

variable "security_group_id" {
  type        = string
  description = "Security group of the task (the run worker group)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the schedule payload and the dead-letter queue."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic alarmed when dead letters arrive."
}

variable "maximum_retry_attempts" {
  type        = number
  description = "Retries of a failed invocation before it is dead-lettered (0-185)."
  default     = 3

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 185
    error_message = "maximum_retry_attempts must be between 0 and 185."
  }
}

variable "maximum_event_age_seconds" {
  type        = number
  description = "How long a failed invocation keeps being retried (60-86400 s)."
  default     = 3600

  validation {
    condition     = var.maximum_event_age_seconds >= 60 && var.maximum_event_age_seconds <= 86400
    error_message = "maximum_event_age_seconds must be between 60 and 86400."
  }
}
