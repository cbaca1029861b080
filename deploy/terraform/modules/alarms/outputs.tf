locals {
  alarms = merge(
    { for a in aws_cloudwatch_metric_alarm.error_outcomes : "error_outcomes" => a },
    { for a in aws_cloudwatch_metric_alarm.policy_not_ready : "policy_not_ready" => a },
    { for a in aws_cloudwatch_metric_alarm.bundle_failures : "bundle_failures" => a },
    { for a in aws_cloudwatch_metric_alarm.shadow_disagreements : "shadow_disagreements" => a },
    { for a in aws_cloudwatch_metric_alarm.shadow_errors : "shadow_errors" => a },
    { for a in aws_cloudwatch_metric_alarm.latency : "latency_p99" => a },
    {
      lambda_errors    = aws_cloudwatch_metric_alarm.lambda_errors
      lambda_throttles = aws_cloudwatch_metric_alarm.lambda_throttles
    },
  )
}

output "alarm_arns" {
  description = "The alarms' ARNs by name (error_outcomes, policy_not_ready, bundle_failures, latency_p99, lambda_errors, lambda_throttles, and shadow_disagreements and shadow_errors when shadow is set): for a composite alarm or a dashboard."
  value       = { for name, alarm in local.alarms : name => alarm.arn }
}
