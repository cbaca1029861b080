# A WebSocket API whose connections are authorized by the authz Lambda
# authorizer. A WebSocket client is authorized once, on $connect: the
# messages it sends afterwards on the open connection reach no authorizer.
#
# The policy must grant the route key $connect: the authorizer's input for a
# WebSocket event has an empty method and the route key as its path, and the
# IAM policy it returns names .../<stage>/$connect. The default policy
# (bundles/default/data.json) grants {"method": "*", "path": "$connect"} to
# the reader and writer roles (orders:read or orders:write scopes, Orders.Read
# or Orders.Write app roles, orders-readers or orders-writers groups), and
# admin's {"method": "*", "path": "*"} covers it too; anyone else is refused
# (403, or 401 without a valid token). A policy of your own needs that grant
# for every role that may connect.
#
# No WAF: AWS WAF does not attach to WebSocket APIs (REST API stages only,
# among API Gateway's kinds). Rate limiting per client before the authorizer
# needs CloudFront with a WAF web ACL in front; the stage throttling below
# caps all clients together.
#
# API Gateway refuses a WebSocket stage with access logs ("CloudWatch Logs
# role ARN must be set in account settings to enable logging") until the
# region's API Gateway account settings name a role that may write to
# CloudWatch Logs. That setting is account-wide, shared with every REST and
# WebSocket API in the region: var.manage_api_gateway_account sets it, when
# nothing else does.

module "api_gateway_account" {
  source = "../../modules/api_gateway_account"
  count  = var.manage_api_gateway_account ? 1 : 0

  name = var.name
}

module "authorizer" {
  source = "../../modules/authorizer"

  name         = var.name
  package_path = var.package_path
  issuers      = var.issuers

  # Browsers cannot set headers on the WebSocket handshake (the WebSocket
  # constructor takes a URL and subprotocols only), so the token travels as a
  # query parameter: wss://.../prod?access_token=... The authorizer removes it
  # from what the policy sees, and the access log below never logs the query.
  token_sources = ["query:access_token"]
}

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  description                = "WebSocket API authorized on $connect by the authz Lambda authorizer"
}

resource "aws_apigatewayv2_authorizer" "this" {
  api_id          = aws_apigatewayv2_api.this.id
  name            = var.name
  authorizer_type = "REQUEST"
  authorizer_uri  = module.authorizer.invoke_arn

  # The place token_sources names, in WebSocket syntax. A handshake without
  # it is refused with 401 before the authorizer is invoked. WebSocket
  # authorizers do not cache, so there is no TTL to set: every $connect is
  # one invocation.
  identity_sources = ["route.request.querystring.access_token"]
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

# A stand-in backend that needs no other resource: MOCK is valid for
# WebSocket APIs (not for HTTP APIs). Its request template answers status
# 200, which is what accepts a $connect; the template selection expression
# is the escaped literal key \$default, so that template applies whatever
# the request carries. On $default it accepts each message and sends nothing
# back. Replace it with your backend (AWS_PROXY to a Lambda, HTTP, ...).
resource "aws_apigatewayv2_integration" "mock" {
  api_id                        = aws_apigatewayv2_api.this.id
  integration_type              = "MOCK"
  template_selection_expression = "\\$default"

  request_templates = {
    "$default" = jsonencode({ statusCode = 200 })
  }
}

resource "aws_apigatewayv2_route" "connect" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$connect"
  target             = "integrations/${aws_apigatewayv2_integration.mock.id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.this.id
}

# Authorizers attach to $connect only: a message on an open connection was
# authorized with the connection.
resource "aws_apigatewayv2_route" "default" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.mock.id}"
  authorization_type = "NONE"
}

# Apart from the authorizer's log group, which holds its decision log: the
# access log is API Gateway's line for every connect, message and
# disconnect, including handshakes refused before the authorizer ran.
resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = 90
}

resource "aws_apigatewayv2_stage" "prod" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "prod"
  auto_deploy = true

  # One JSON object per event. Never the query string: on this API it holds
  # the token. The authorizer fields say how each $connect was decided
  # (status 401/403, the error, the principal the policy named) and how long
  # it took; the decision log says why.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId           = "$context.requestId"
      ip                  = "$context.identity.sourceIp"
      requestTime         = "$context.requestTime"
      eventType           = "$context.eventType"
      routeKey            = "$context.routeKey"
      status              = "$context.status"
      connectionId        = "$context.connectionId"
      authorizerError     = "$context.authorizer.error"
      authorizerLatency   = "$context.authorizer.latency"
      authorizerStatus    = "$context.authorizer.status"
      authorizerPrincipal = "$context.authorizer.principalId"
    })
  }

  default_route_settings {
    # A data trace writes the full request to the execution log: the
    # $connect query string, and with it the token.
    data_trace_enabled = false
    # No execution log either: the access log and the authorizer's decision
    # log already say who connected and why they were let in or refused.
    logging_level = "OFF"

    # A ceiling for the stage's routes (requests per second, and the burst
    # above it), all clients together: not a per-client limit, so one noisy
    # client can still use it all. Raise it to your traffic.
    throttling_rate_limit  = 50
    throttling_burst_limit = 100
  }

  # Not serving before API Gateway may invoke the authorizer: handshakes in
  # that window would fail with an error no authorizer metric explains.
  depends_on = [aws_lambda_permission.authorizer, module.api_gateway_account]
}

module "alarms" {
  source = "../../modules/alarms"

  function_name     = module.authorizer.function_name
  metrics_namespace = module.authorizer.metrics_namespace
  alarm_actions     = var.alarm_actions
}
