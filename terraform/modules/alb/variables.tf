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
  description = "ALB subnets (two or more zones) of the internal load balancer: private, with a NAT route for the identity provider calls."
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
  description = "OIDC identity provider authenticating every UI request on the listener rule (required: network reachability alone is not authentication)."
  nullable    = false

  validation {
    condition     = alltrue([for endpoint in [var.oidc.issuer, var.oidc.authorization_endpoint, var.oidc.token_endpoint, var.oidc.user_info_endpoint] : startswith(endpoint, "https://")])
    error_message = "oidc: the issuer and the authorization, token and user info endpoints must be https:// URLs."
  }
}

variable "oidc_client_secret" {
  type        = string
  description = "Client secret of the OIDC application (required; give it at plan time, never in a file)."
  nullable    = false
  sensitive   = true

  validation {
    condition     = length(var.oidc_client_secret) > 0
    error_message = "oidc_client_secret must not be empty."
  }
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
