output "log_group_name" {
  description = "CloudWatch log group of every ECS container (/ecs/<name>); stream prefix = container name."
  value       = aws_cloudwatch_log_group.ecs.name
}

output "log_group_arn" {
  description = "ARN of the ECS log group."
  value       = aws_cloudwatch_log_group.ecs.arn
}

output "alarm_topic_arn" {
  description = "ARN of the encrypted SNS alarm topic (PIPELINE_ALERT_TOPIC_ARN)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch metric alarms."
  value = [
    aws_cloudwatch_metric_alarm.no_report.alarm_name,
    aws_cloudwatch_metric_alarm.run_duration.alarm_name,
    aws_cloudwatch_metric_alarm.rejection_rate.alarm_name,
    aws_cloudwatch_metric_alarm.daemon_not_running.alarm_name,
  ]
}

output "run_task_failed_rule_name" {
  description = "EventBridge rule that reports failed run tasks to the alarm topic."
  value       = aws_cloudwatch_event_rule.run_task_failed.name
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
