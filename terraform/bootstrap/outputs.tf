output "state_bucket" {
  description = "Bucket of the environments' Terraform state."
  value       = aws_s3_bucket.state.id
}

output "backend_init_command" {
  description = "How an environment initialises its backend against this bucket."
  value       = "terraform init -backend-config=\"bucket=${aws_s3_bucket.state.id}\" -backend-config=\"region=${var.aws_region}\""
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider created here, or null when it already existed."
  value       = one(aws_iam_openid_connect_provider.github[*].arn)
}
