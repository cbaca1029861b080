output "invoke_url" {
  description = "The API's URL: the $default stage serves at its root, e.g. GET <invoke_url>/orders/42 with an Authorization: Bearer header."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_id" {
  description = "The HTTP API's id."
  value       = aws_apigatewayv2_api.this.id
}

output "function_name" {
  description = "The authorizer function: the Function dimension of its metrics."
  value       = module.authorizer.function_name
}

output "log_group_name" {
  description = "The authorizer's log group: its decision log, the source of the Logs Insights queries and the metrics."
  value       = module.authorizer.log_group_name
}

output "access_log_group_name" {
  description = "The API's access log group: one line per request, with $context.authorizer.error."
  value       = aws_cloudwatch_log_group.access.name
}
