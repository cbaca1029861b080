# An HTTP API whose two routes are authorized by the authz Lambda authorizer.
#
# No WAF here: AWS WAF attaches to REST API stages (and CloudFront, ALB, ...)
# but not to HTTP APIs. Every request that carries an Authorization header
# reaches the authorizer, and each cache miss is a paid Lambda invocation; to
# rate-limit clients before the authorizer is invoked, put CloudFront with a
# WAF web ACL (a rate-based rule) in front of this API, or use a REST API with
# the WAF of the rest-api example.

module "authorizer" {
  source = "../../modules/authorizer"

  name         = var.name
  package_path = var.package_path
  issuers      = var.issuers

  # The same variable as the authorizer's enable_simple_responses below: if
  # the two disagree, API Gateway reads an IAM policy where it expects
  # {isAuthorized} (or the reverse) and refuses every request.
  http_simple_responses = var.simple_responses
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "Orders API authorized by the authz Lambda authorizer"
}

resource "aws_apigatewayv2_authorizer" "this" {
  api_id          = aws_apigatewayv2_api.this.id
  name            = var.name
  authorizer_type = "REQUEST"
  authorizer_uri  = module.authorizer.invoke_arn

  # 2.0 is the payload that simple responses need; the authorizer reads 1.0
  # too, but then always answers with an IAM policy.
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = var.simple_responses

  # Why $context.routeKey: the cache is keyed by the identity sources alone.
  # A simple response carries no grants, only isAuthorized for the route it
  # was asked about, so keyed by the token alone, a caller's first answer
  # (allowed on GET /orders/{id}) would also answer their DELETE /orders/{id}
  # for the TTL. With routeKey in the key each route gets its own entry.
  # routeKey is the route template, not the request: see var.authorizer_ttl
  # for the policies that need TTL 0. Without caching the route adds
  # nothing. Either way a request without an Authorization header is refused
  # with 401 before the authorizer is invoked.
  identity_sources                 = var.authorizer_ttl > 0 ? ["$request.header.Authorization", "$context.routeKey"] : ["$request.header.Authorization"]
  authorizer_result_ttl_in_seconds = var.authorizer_ttl
}

# Only this API's authorizer may invoke the function: a wildcard source ARN
# would let any API in the account (or any authorizer of this one) use it.
# The qualifier is the alias API Gateway invokes when provisioned concurrency
# is on, and null otherwise.
resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  principal     = "apigateway.amazonaws.com"
  function_name = module.authorizer.function_name
  qualifier     = module.authorizer.qualifier
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this.id}"
}

# HTTP APIs integrate only with proxies (HTTP_PROXY, AWS_PROXY); HTTP_PROXY
# to a public URL is the one that needs no other resources. Replace it with
# your service. The Authorization header is reserved for HTTP API parameter
# mapping, so API Gateway cannot strip it: the backend receives the token.
resource "aws_apigatewayv2_integration" "backend" {
  api_id             = aws_apigatewayv2_api.this.id
  integration_type   = "HTTP_PROXY"
  integration_method = "ANY"
  integration_uri    = var.backend_url
}

# With the default policy, GET /orders/{id} is granted to the reader role
# (orders:read, Orders.Read, orders-readers) and DELETE only to admin: a
# reader's DELETE is a 403, the quickest way to see a deny.
resource "aws_apigatewayv2_route" "orders" {
  for_each = toset(["GET /orders/{id}", "DELETE /orders/{id}"])

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.backend.id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.this.id
}

# Apart from the authorizer's log group, which holds its decision log: the
# access log is API Gateway's line for every request, including those refused
# before the authorizer ran (no Authorization header: 401), and it has other
# readers and may want another retention.
resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = 90
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  # One JSON object per request. Only what says who called which route and
  # how it ended: never the query string or the headers, which is where the
  # token travels, and the route template rather than the path, which could
  # carry one too. $context.authorizer.error says why the authorizer refused
  # (or could not be invoked); the authorizer's decision log line with the
  # same request_id says what the policy decided and why.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId       = "$context.requestId"
      ip              = "$context.identity.sourceIp"
      requestTime     = "$context.requestTime"
      routeKey        = "$context.routeKey"
      status          = "$context.status"
      responseLength  = "$context.responseLength"
      authorizerError = "$context.authorizer.error"
    })
  }

  # Not serving before API Gateway may invoke the authorizer: requests in
  # that window would fail with a 500 that no alarm here explains.
  depends_on = [aws_lambda_permission.authorizer]
}

module "alarms" {
  source = "../../modules/alarms"

  function_name     = module.authorizer.function_name
  metrics_namespace = module.authorizer.metrics_namespace
  alarm_actions     = var.alarm_actions
}
