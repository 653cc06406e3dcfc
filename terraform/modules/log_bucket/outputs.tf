output "bucket_id" {
  description = "Name of the access-log bucket, available once its policy admits the log deliverers."
  value       = aws_s3_bucket_policy.this.bucket
}

output "bucket_arn" {
  description = "ARN of the access-log bucket."
  value       = aws_s3_bucket.this.arn
}

output "s3_access_log_prefix" {
  description = "Prefix under which S3 server access logs land."
  value       = "s3-access/"
}

output "alb_log_prefix" {
  description = "Prefix under which ALB access logs land."
  value       = "alb"
}
