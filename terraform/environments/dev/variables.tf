# The root's inputs: the values supplied at plan time (TF_VAR_<name> in the deploy workflow, or
# -var on the command line), passed on to modules/pipeline, which validates them.

variable "aws_account_id" {
  type        = string
  description = "AWS account of the environment (supplied at plan time); the provider refuses any other account."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository owner/name allowed to deploy (supplied at plan time)."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate of the UI host name (supplied at plan time)."
}

variable "image_tag" {
  type        = string
  description = "Image tag to run (commit SHA), passed by the deploy workflow with -var image_tag=<sha>."
}

variable "alb_oidc" {
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    scope                  = optional(string, "openid email")
    session_timeout        = optional(number, 28800)
  })
  description = "OIDC provider authenticating every UI request at the load balancer (supplied at plan time, TF_VAR_alb_oidc; required in every environment)."
  nullable    = false
}

variable "alb_oidc_client_secret" {
  type        = string
  description = "Client secret of the OIDC application (supplied at plan time, TF_VAR_alb_oidc_client_secret; required)."
  nullable    = false
  sensitive   = true
}
