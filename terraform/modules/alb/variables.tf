variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>): load balancer name and target group prefix (at most 26 characters)."

  validation {
    condition     = length(var.name) <= 26
    error_message = "name must be at most 26 characters (target group names are <name>-green, 32 at most)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the target groups."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (two or more zones) of the internal load balancer."
}

variable "security_group_id" {
  type        = string
  description = "Security group of the load balancer."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate ARN of the HTTPS listener (for hostname)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS security policy of the HTTPS listener."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket receiving the access logs (SSE-S3, with a policy admitting ELB log delivery)."
}

variable "access_log_prefix" {
  type        = string
  description = "Prefix of the access logs in that bucket (no trailing slash)."
  default     = "alb"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse deletion of the load balancer."
}

variable "idle_timeout_seconds" {
  type        = number
  description = "Idle connection timeout in seconds (the UI keeps long-lived requests)."
  default     = 120
}

variable "webserver_port" {
  type        = number
  description = "Port of the webserver container."
  default     = 3000
}

variable "health_check_path" {
  type        = string
  description = "Health check path answered by dagster-webserver."
  default     = "/server_info"
}

variable "deregistration_delay_seconds" {
  type        = number
  description = "Draining time of a deregistered webserver task."
  default     = 30
}

variable "oidc" {
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    scope                  = optional(string, "openid email")
    session_timeout        = optional(number, 28800)
  })
  description = "OIDC identity provider authenticating UI users on the listener rule; null leaves authentication to network reachability (internal ALB, alb_ingress_cidrs)."
  default     = null
}

variable "oidc_client_secret" {
  type        = string
  description = "Client secret of the OIDC application (required when oidc is set)."
  default     = null
  sensitive   = true
}

variable "dns_zone_id" {
  type        = string
  description = "Route 53 (private) hosted zone for an alias record of hostname; null creates no record."
  default     = null
}

variable "hostname" {
  type        = string
  description = "Host name of the Dagster UI, covered by certificate_arn; null uses the ALB DNS name."
  default     = null
}
