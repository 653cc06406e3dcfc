variable "name" {
  type        = string
  description = "Repository name; the environment name prefix (pipeline-<env>)."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the images at rest."
}

variable "keep_last_images" {
  type        = number
  description = "Number of most recent images kept; older ones expire (keep enough to roll back)."
  default     = 30

  validation {
    condition     = var.keep_last_images >= 5
    error_message = "keep_last_images must be at least 5 so that rollbacks stay possible."
  }
}

variable "untagged_image_expiry_days" {
  type        = number
  description = "Days after which untagged images expire."
  default     = 7

  validation {
    condition     = var.untagged_image_expiry_days >= 1
    error_message = "untagged_image_expiry_days must be positive."
  }
}

variable "force_delete" {
  type        = bool
  description = "Allow terraform destroy to delete the repository while it still holds images."
  default     = false
}
