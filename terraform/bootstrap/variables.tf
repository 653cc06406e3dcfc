variable "aws_region" {
  type        = string
  description = "Region of the state bucket (the environments' backend region)."
}

variable "aws_account_id" {
  type        = string
  description = "AWS account being bootstrapped; the provider refuses any other."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be a 12-digit AWS account ID."
  }
}

variable "state_bucket_prefix" {
  type        = string
  description = "State bucket name prefix; the bucket is <prefix>-<account id>. The environments expect pipeline-tfstate."
  default     = "pipeline-tfstate"
}

variable "state_kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the state bucket; null uses the AWS managed aws/s3 key."
  default     = null
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days old state versions are kept (for recovery from a bad apply)."
  default     = 365

  validation {
    condition     = var.noncurrent_version_retention_days >= 30
    error_message = "Keep old state versions at least 30 days."
  }
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the token.actions.githubusercontent.com OIDC provider (false when the account already has it: there can be only one)."
  default     = true
}
