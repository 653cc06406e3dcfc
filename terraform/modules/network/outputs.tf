output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (one per availability zone, no route to the internet) where every task and the database run."
  value       = aws_subnet.private[*].id
}

output "alb_subnet_ids" {
  description = "IDs of the load balancer subnets (one per availability zone, default route through the NAT gateway for the identity provider)."
  value       = aws_subnet.alb[*].id
}

output "nat_public_ips" {
  description = "Public addresses the ALB's identity provider calls (and, in the lean profile, the tasks' AWS calls) come from (for an allow list at the provider)."
  value       = aws_eip.nat[*].public_ip
}

output "alb_security_group_id" {
  description = "Security group of the internal ALB."
  value       = aws_security_group.alb.id
}

output "webserver_security_group_id" {
  description = "Security group of the webserver tasks."
  value       = aws_security_group.task["webserver"].id
}

output "daemon_security_group_id" {
  description = "Security group of the daemon task."
  value       = aws_security_group.task["daemon"].id
}

output "code_server_security_group_id" {
  description = "Security group of the code server tasks."
  value       = aws_security_group.task["code_server"].id
}

output "run_worker_security_group_id" {
  description = "Security group of the run worker and reprocess tasks (DAGSTER_RUN_SECURITY_GROUP)."
  value       = aws_security_group.task["run_worker"].id
}

output "db_setup_security_group_id" {
  description = "Security group of the one-off db-setup task (aws ecs run-task --network-configuration)."
  value       = aws_security_group.task["db_setup"].id
}

output "rds_security_group_id" {
  description = "Security group of the PostgreSQL instance."
  value       = aws_security_group.rds.id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
