output "function_name" {
  description = "The function's name: the Function dimension of its metrics, and the function_name of a lambda:InvokeFunction permission."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The function's unqualified ARN."
  value       = aws_lambda_function.this.arn
}

output "qualifier" {
  description = "The alias API Gateway invokes (\"live\") when provisioned concurrency is on, else null: the qualifier of the lambda:InvokeFunction permission."
  value       = one(aws_lambda_alias.live[*].name)
}

output "invoke_arn" {
  description = "What an API Gateway authorizer's URI names: the alias's when provisioned concurrency is on, else the function's."
  value       = local.published ? aws_lambda_alias.live[0].invoke_arn : aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "The function's role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "The function's role name, to grant what an opa_config's services need."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "The log group of the decision log: the source of Logs Insights queries, replay and the metrics."
  value       = aws_cloudwatch_log_group.this.name
}

output "metrics_namespace" {
  description = "The CloudWatch namespace of the metrics, or null when they are off."
  value       = var.metrics ? var.metrics_namespace : null
}
