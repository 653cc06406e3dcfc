output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch LoadBalancer dimension)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "DNS name of the internal load balancer."
  value       = aws_lb.this.dns_name
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener."
  value       = aws_lb_listener.https.arn
}

output "production_listener_rule_arn" {
  description = "ARN of the listener rule forwarding to the webserver (ECS blue/green production rule)."
  value       = aws_lb_listener_rule.webserver.arn
}

output "blue_target_group_arn" {
  description = "Target group the webserver service starts on."
  value       = aws_lb_target_group.webserver["blue"].arn
}

output "green_target_group_arn" {
  description = "Alternate target group of the webserver's blue/green deployments."
  value       = aws_lb_target_group.webserver["green"].arn
}

output "dagster_url" {
  description = "URL of the Dagster UI."
  value       = "https://${var.hostname == null ? aws_lb.this.dns_name : var.hostname}"
}
