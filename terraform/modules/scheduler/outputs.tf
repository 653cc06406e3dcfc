output "schedule_arn" {
  description = "ARN of the daily schedule, or null when disabled."
  value       = one(aws_scheduler_schedule.reprocess[*].arn)
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue, or null when disabled."
  value       = one(aws_sqs_queue.dead_letter[*].arn)
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (to inspect failed invocations), or null when disabled."
  value       = one(aws_sqs_queue.dead_letter[*].url)
}
