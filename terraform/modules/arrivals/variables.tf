variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>): the rule and the queue are <name>-arrivals, the dead-letter queue <name>-arrivals-dlq (modules/kms admits the rule by this name)."
}

variable "data_bucket_name" {
  type        = string
  description = "Data bucket whose EventBridge notifications the rule matches (this environment's only)."
}

variable "raw_data_prefix" {
  type        = string
  description = "Key prefix of the producers' files; only objects under it are queued."
  default     = "raw-data/"

  validation {
    condition     = can(regex("^[^/*][^*]*/$", var.raw_data_prefix))
    error_message = "raw_data_prefix must be a key prefix ending in / (no leading /, no wildcard)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Environment KMS key encrypting both queues (its key policy admits EventBridge for the arrivals rule)."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic of the dead-letter and queue-age alarms."
}

variable "message_retention_seconds" {
  type        = number
  description = "How long both queues keep a message (4 to 14 days): longer than a weekend without a sensor, and time to replay dead letters."
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 345600 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 345600 (4 days) and 1209600 (14 days)."
  }
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "Seconds a received message stays hidden before it is handed out again (longer than one sensor tick's processing)."
  default     = 600

  validation {
    condition     = var.visibility_timeout_seconds >= 60 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 60 and 43200."
  }
}

variable "max_receive_count" {
  type        = number
  description = "Receives without a delete after which a message moves to the dead-letter queue."
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "maximum_retry_attempts" {
  type        = number
  description = "EventBridge retries of an event it cannot deliver to the queue before dead-lettering it (0-185)."
  default     = 185

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 185
    error_message = "maximum_retry_attempts must be between 0 and 185."
  }
}

variable "maximum_event_age_seconds" {
  type        = number
  description = "How long EventBridge keeps retrying an undelivered event before dead-lettering it (60-86400 s)."
  default     = 86400

  validation {
    condition     = var.maximum_event_age_seconds >= 60 && var.maximum_event_age_seconds <= 86400
    error_message = "maximum_event_age_seconds must be between 60 and 86400."
  }
}

variable "oldest_message_age_alarm_seconds" {
  type        = number
  description = "Alarm when the oldest message in the arrivals queue is older than this (the sensor is not draining it)."
  default     = 3600

  validation {
    condition     = var.oldest_message_age_alarm_seconds >= 300
    error_message = "oldest_message_age_alarm_seconds must be at least 300 (several sensor ticks)."
  }
}
