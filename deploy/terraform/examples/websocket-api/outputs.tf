output "websocket_url" {
  description = "The stage's wss:// URL. Connect with the token as a query parameter: wss://.../prod?access_token=TOKEN."
  value       = aws_apigatewayv2_stage.prod.invoke_url
}

output "api_id" {
  description = "The WebSocket API's id."
  value       = aws_apigatewayv2_api.this.id
}

output "function_name" {
  description = "The authorizer function: the Function dimension of its metrics."
  value       = module.authorizer.function_name
}
