output "queue_url" {
  description = "URL of the arrivals queue (PIPELINE_ARRIVALS_QUEUE_URL)."
  value       = aws_sqs_queue.arrivals.url
}

output "queue_arn" {
  description = "ARN of the arrivals queue (the code server's task role receives from it)."
  value       = aws_sqs_queue.arrivals.arn
}

output "dlq_url" {
  description = "URL of the arrivals dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "dlq_arn" {
  description = "ARN of the arrivals dead-letter queue (the source of a replay)."
  value       = aws_sqs_queue.dead_letter.arn
}

output "rule_arn" {
  description = "ARN of the EventBridge rule feeding the queue."
  value       = aws_cloudwatch_event_rule.arrivals.arn
}
