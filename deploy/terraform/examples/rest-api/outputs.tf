output "invoke_url" {
  description = "The prod stage's URL: curl -H \"Authorization: Bearer $TOKEN\" INVOKE_URL/orders/42."
  value       = aws_api_gateway_stage.prod.invoke_url
}

output "api_id" {
  description = "The REST API's id."
  value       = aws_api_gateway_rest_api.this.id
}

output "function_name" {
  description = "The authorizer function's name: the Function dimension of its metrics."
  value       = module.authorizer.function_name
}

output "log_group_name" {
  description = "The authorizer's log group: the decision log, Logs Insights queries and replay."
  value       = module.authorizer.log_group_name
}

output "access_log_group_name" {
  description = "The API's access log group: one line per request, with the authorizer's status, latency and error."
  value       = aws_cloudwatch_log_group.access.name
}

output "bucket" {
  description = "The policy bucket."
  value       = module.policy_bucket.bucket
}

output "bundle_s3_uri" {
  description = "Where CI publishes a new signed bundle (aws s3 cp bundle.tar.gz BUNDLE_S3_URI); the function activates it within a poll interval."
  value       = "s3://${module.policy_bucket.bucket}/${module.policy_bucket.bundle_key}"
}

output "alarm_arns" {
  description = "The alarms' ARNs by name."
  value       = module.alarms.alarm_arns
}
