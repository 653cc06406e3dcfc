output "address" {
  description = "Host name of the instance (DAGSTER_PG_HOST)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance (DAGSTER_PG_PORT)."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Database of the Dagster instance (DAGSTER_PG_DB)."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name (DAGSTER_PG_ADMIN_USERNAME of the db-setup task; no service uses it)."
  value       = aws_db_instance.this.username
}

output "resource_id" {
  description = "Resource ID (db-...) of the instance: the rds-db:connect ARNs of IAM database authentication name it."
  value       = aws_db_instance.this.resource_id
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret holding the master password (JSON key password); only the db-setup task reads it."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "instance_identifier" {
  description = "Identifier of the DB instance."
  value       = aws_db_instance.this.identifier
}

output "instance_arn" {
  description = "ARN of the DB instance."
  value       = aws_db_instance.this.arn
}
