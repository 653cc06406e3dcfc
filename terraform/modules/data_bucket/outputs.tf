output "bucket_id" {
  description = "Name of the data bucket (PIPELINE_STORAGE_URL is s3://<this>)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.this.arn
}

output "storage_url" {
  description = "PIPELINE_STORAGE_URL of the environment."
  value       = "s3://${aws_s3_bucket.this.id}"
}

output "kms_key_arn" {
  description = "KMS key encrypting the bucket by default, or null with SSE-S3."
  value       = var.kms_key_arn
}
