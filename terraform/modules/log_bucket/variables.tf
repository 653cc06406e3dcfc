variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>); the bucket is <name>-access-logs-<account id>."
}

variable "retention_days" {
  type        = number
  description = "Days after which access log objects expire."
  default     = 365

  validation {
    condition     = var.retention_days >= 30
    error_message = "retention_days must be at least 30."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete a non-empty bucket. Keep false outside throwaway environments."
  default     = false
}
