variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>); role names start with it."
}

variable "cluster_name" {
  type        = string
  description = "Name of the ECS cluster the run tasks are launched in."
}

variable "run_task_family" {
  type        = string
  description = "Task definition family of the run worker (<name>-run); the only family the launcher and the run worker's step executor may run."
}

variable "service_names" {
  type        = list(string)
  description = "ECS services the deploy role may update (webserver, daemon, code server)."
}

variable "data_bucket_arn" {
  type        = string
  description = "ARN of the data bucket (raw-data/, reports/, quarantine/, compute-logs/, work/)."
}

variable "data_bucket_kms_key_arn" {
  type        = string
  description = "KMS key of the data bucket when it uses SSE-KMS; null with SSE-S3."
  default     = null
}

variable "ecr_repository_arn" {
  type        = string
  description = "ARN of the image repository."
}

variable "log_group_arn" {
  type        = string
  description = "ARN of the /ecs/<name> log group (without a :* suffix)."
}

variable "db_master_secret_arn" {
  type        = string
  description = "ARN of the RDS-managed master user secret; only the db-setup execution role may read it (DAGSTER_PG_ADMIN_PASSWORD)."
}

variable "db_resource_id" {
  type        = string
  description = "Resource ID of the DB instance (db-...), part of the rds-db:connect ARN of the app user."
}

variable "db_app_username" {
  type        = string
  description = "Database user every Dagster process logs in as with IAM authentication (rds-db:connect on exactly this user)."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the environment key (encrypts the master secret, the alarm topic and the arrivals queue)."
}

variable "arrivals_queue_arn" {
  type        = string
  description = "ARN of the arrivals queue (modules/arrivals); only the code server's role may receive from it."
}

variable "alert_topic_arn" {
  type        = string
  description = "ARN of the SNS alarm topic the run-failure sensor publishes to."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may assume the deploy role."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "github_environment" {
  type        = string
  description = "Protected GitHub environment whose jobs alone may assume the deploy role (token subject repo:<repo>:environment:<this>; its deployment-branch rule is set in GitHub)."
}

variable "terraform_state_bucket" {
  type        = string
  description = "Bucket holding the Terraform state (from terraform/bootstrap)."
}

variable "terraform_state_key" {
  type        = string
  description = "Object key of this environment's state; the deploy role may read and write it and its .tflock."
}
