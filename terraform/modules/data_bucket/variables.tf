variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>); the bucket is <name>-data-<account id>."
}

variable "kms_key_arn" {
  type        = string
  description = "Optional KMS key ARN for SSE-KMS default encryption (with an S3 bucket key). Null keeps SSE-S3 (AES256)."
  default     = null
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket receiving the S3 server access logs of the data bucket."
}

variable "access_log_prefix" {
  type        = string
  description = "Prefix in the access-log bucket under which this bucket's access logs are written (ends with /)."
  default     = "s3-access/"
}

variable "raw_data_infrequent_access_days" {
  type        = number
  description = "Days after which raw-data/ objects move to STANDARD_IA (at least 30)."
  default     = 30

  validation {
    condition     = var.raw_data_infrequent_access_days >= 30
    error_message = "S3 requires at least 30 days before a transition to STANDARD_IA."
  }
}

variable "raw_data_archive_days" {
  type        = number
  description = "Days after which raw-data/ objects move to the archive storage class (at least 30 days after the STANDARD_IA transition)."
  default     = 120

  validation {
    condition     = var.raw_data_archive_days >= var.raw_data_infrequent_access_days + 30
    error_message = "raw_data_archive_days must be at least raw_data_infrequent_access_days + 30."
  }
}

variable "raw_data_archive_storage_class" {
  type        = string
  description = "Archive class for old raw data. GLACIER_IR keeps reprocessing instant; GLACIER or DEEP_ARCHIVE are cheaper but need a restore before a day can be reprocessed."
  default     = "GLACIER_IR"

  validation {
    condition     = contains(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.raw_data_archive_storage_class)
    error_message = "raw_data_archive_storage_class must be GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent object versions are deleted."
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be positive."
  }
}

variable "compute_log_expiration_days" {
  type        = number
  description = "Days after which Dagster compute logs under compute-logs/ expire."
  default     = 90

  validation {
    condition     = var.compute_log_expiration_days >= 1
    error_message = "compute_log_expiration_days must be positive."
  }
}

variable "work_expiration_days" {
  type        = number
  description = "Days after which work/ objects (sharded runs' intermediate files), their noncurrent versions and their incomplete multipart uploads are deleted; a run's files are needed only while it runs."
  default     = 2

  validation {
    condition     = var.work_expiration_days >= 1
    error_message = "work_expiration_days must be positive."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  type        = number
  description = "Days after which incomplete multipart uploads are aborted."
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be positive."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete a non-empty bucket. Keep false: the lake is the system of record."
  default     = false
}
