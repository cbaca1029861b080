# A REST API whose every method is decided by the authorizer: /orders/{id}
# with GET and DELETE, answered by a MOCK integration so that the example
# deploys with nothing behind it. Replace the integration with your backend;
# the authorizer, its permission, the Gateway Responses, the access log, the
# policy bucket, the alarms and the WAF are the parts meant to be kept.
#
#   make package                                         # dist/authorizer.zip
#   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem
#   openssl pkey -in key.pem -pubout -out key.pub.pem
#   make bundle DIR="rego bundles/default" LIB= SIGNING_KEY=key.pem   # bundle.tar.gz
#   cd deploy/terraform/examples/rest-api
#   cp terraform.tfvars.example terraform.tfvars         # then edit issuers
#   terraform init && terraform apply

data "aws_caller_identity" "current" {}

locals {
  bucket_name = coalesce(var.policy_bucket_name, "${var.name}-policy-${data.aws_caller_identity.current.account_id}-${var.region}")
}

# The policy

module "policy_bucket" {
  source = "../../modules/policy_bucket"

  bucket_name    = local.bucket_name
  initial_bundle = var.bundle_file
  tags           = var.tags
}

# The authorizer

module "authorizer" {
  source = "../../modules/authorizer"

  name         = var.name
  package_path = var.package_path
  issuers      = var.issuers

  # Where the function looks for the token. It must be the place the
  # authorizer's identity_source names (below): API Gateway answers 401
  # without invoking the function when the identity source is missing, and
  # caches by it.
  token_sources = ["header:authorization"]

  bundle_bucket     = module.policy_bucket.bucket
  bundle_key        = module.policy_bucket.bundle_key
  bundle_public_key = file(var.bundle_public_key_file)
  shadow_query      = var.shadow_query

  tags = var.tags
}

module "alarms" {
  source = "../../modules/alarms"

  function_name     = module.authorizer.function_name
  metrics_namespace = module.authorizer.metrics_namespace
  alarm_actions     = var.alarm_actions
  shadow            = var.shadow_query != null
  tags              = var.tags
}

# The API

# REGIONAL: no CloudFront distribution of API Gateway's own in between, and a
# REGIONAL web ACL in the same region attaches to the stage directly. Put
# your own CloudFront in front if you need an edge.
resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = "Example API whose every method is decided by the ${var.name} authorizer."

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags
}

resource "aws_api_gateway_resource" "orders" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "orders"
}

resource "aws_api_gateway_resource" "order" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.orders.id
  path_part   = "{id}"
}

resource "aws_api_gateway_authorizer" "this" {
  name           = var.name
  rest_api_id    = aws_api_gateway_rest_api.this.id
  type           = "REQUEST"
  authorizer_uri = module.authorizer.invoke_arn

  # The header the module's token_sources reads. A request without it gets
  # 401 from API Gateway, with no invocation to pay for; it is also the cache
  # key.
  identity_source = "method.request.header.Authorization"

  # Caching is safe because the policy returns grants: the IAM policy cached
  # for a token lists every route the caller may call, so a cached answer is
  # right for the caller's other routes too (see var.authorizer_ttl).
  authorizer_result_ttl_in_seconds = var.authorizer_ttl
}

# Scoped to this API's authorizer: no other API, and no method of this one,
# can invoke the function through this permission.
resource "aws_lambda_permission" "authorizer" {
  statement_id  = "${var.name}-rest-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = module.authorizer.function_name
  qualifier     = module.authorizer.qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this.id}"
}

locals {
  # Every method CUSTOM: a method left at NONE would be public, whatever the
  # policy says about its route.
  methods = toset(["GET", "DELETE"])
}

resource "aws_api_gateway_method" "order" {
  for_each = local.methods

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.order.id
  http_method   = each.key
  authorization = "CUSTOM"
  authorizer_id = aws_api_gateway_authorizer.this.id

  request_parameters = {
    "method.request.path.id" = true
  }
}

resource "aws_api_gateway_integration" "order" {
  for_each = aws_api_gateway_method.order

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.order.id
  http_method = each.value.http_method
  type        = "MOCK"

  # MOCK answers with the status code this template names.
  request_templates = {
    "application/json" = jsonencode({ statusCode = 200 })
  }
}

resource "aws_api_gateway_method_response" "order" {
  for_each = aws_api_gateway_method.order

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.order.id
  http_method = each.value.http_method
  status_code = "200"
}

# Echoes what the authorizer decided for, so a test call shows it at work.
resource "aws_api_gateway_integration_response" "order" {
  for_each = aws_api_gateway_integration.order

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.order.id
  http_method = each.value.http_method
  status_code = aws_api_gateway_method_response.order[each.key].status_code

  response_templates = {
    "application/json" = "{\"id\": \"$util.escapeJavaScript($input.params('id'))\", \"method\": \"$context.httpMethod\", \"principalId\": \"$util.escapeJavaScript($context.authorizer.principalId)\"}"
  }
}

# Gateway Responses: what a client reads when the authorizer says no or cannot
# answer. Each body carries the request id, the key to the access log line
# and, through it, to the authorizer's decision line (custom.request_id).

resource "aws_api_gateway_gateway_response" "unauthorized" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = "UNAUTHORIZED"
  status_code   = "401"

  response_templates = {
    "application/json" = "{\"message\": $context.error.messageString, \"requestId\": \"$context.requestId\"}"
  }

  # RFC 6750: a 401 for a bearer-token API names the scheme it expects.
  response_parameters = {
    "gatewayresponse.header.WWW-Authenticate" = "'Bearer'"
  }
}

resource "aws_api_gateway_gateway_response" "access_denied" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = "ACCESS_DENIED"
  status_code   = "403"

  response_templates = {
    "application/json" = "{\"message\": $context.error.messageString, \"requestId\": \"$context.requestId\"}"
  }
}

# The authorizer failed (AUTHORIZER_FAILURE: throttled, crashed, or an answer
# API Gateway cannot use) or could not be called (AUTHORIZER_CONFIGURATION_ERROR:
# API Gateway failed to connect to it, e.g. without the invoke permission). The
# client sees 500 either way, and the same body: the request was not
# authorized. The cause is for operators, in the access log (responseType,
# authorizer.error) and the lambda-errors and lambda-throttles alarms.
resource "aws_api_gateway_gateway_response" "authorizer_failure" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = "AUTHORIZER_FAILURE"
  status_code   = "500"

  response_templates = {
    "application/json" = "{\"message\": \"The request was not authorized.\", \"requestId\": \"$context.requestId\"}"
  }
}

resource "aws_api_gateway_gateway_response" "authorizer_configuration_error" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = "AUTHORIZER_CONFIGURATION_ERROR"
  status_code   = "500"

  response_templates = {
    "application/json" = "{\"message\": \"The request was not authorized.\", \"requestId\": \"$context.requestId\"}"
  }
}

# A REST API serves what was deployed, not what is configured: any change to
# these resources needs a new deployment, and the whole resources go into the
# hash so that a changed TTL or template is one too, not only a new id.
resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.orders,
      aws_api_gateway_resource.order,
      aws_api_gateway_authorizer.this,
      aws_api_gateway_method.order,
      aws_api_gateway_integration.order,
      aws_api_gateway_method_response.order,
      aws_api_gateway_integration_response.order,
      aws_api_gateway_gateway_response.unauthorized,
      aws_api_gateway_gateway_response.access_denied,
      aws_api_gateway_gateway_response.authorizer_failure,
      aws_api_gateway_gateway_response.authorizer_configuration_error,
    ]))
  }

  # The stage moves to the new deployment before the old one is deleted: a
  # deployment a stage still uses cannot be deleted.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.access_log_retention_days
  tags              = var.tags
}

resource "aws_api_gateway_stage" "prod" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = "prod"

  # One JSON line per request. Never the query string, the headers or the
  # path itself: a token can be in any of them (the authorizer's
  # token_in_path outcome exists for a reason), and a log is read by more
  # people than the API. resourcePath is the template (/orders/{id}).
  # authorizer.requestId is the function's invocation, the decision line's
  # custom.lambda_request_id; it is empty when the answer came from the cache.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId       = "$context.requestId"
      ip              = "$context.identity.sourceIp"
      requestTime     = "$context.requestTime"
      httpMethod      = "$context.httpMethod"
      resourcePath    = "$context.resourcePath"
      status          = "$context.status"
      responseLength  = "$context.responseLength"
      responseType    = "$context.error.responseType"
      wafResponseCode = "$context.wafResponseCode"
      authorizer = {
        error              = "$context.authorizer.error"
        latency            = "$context.authorizer.latency"
        status             = "$context.authorizer.status"
        integrationLatency = "$context.authorizer.integrationLatency"
        principalId        = "$context.authorizer.principalId"
        requestId          = "$context.authorizer.requestId"
      }
    })
  }

  tags = var.tags

  # Access logging fails without the account's CloudWatch role.
  # Nor serve before API Gateway may invoke the authorizer: those requests
  # would be 500s (AUTHORIZER_CONFIGURATION_ERROR).
  depends_on = [module.api_gateway_account, aws_lambda_permission.authorizer]
}

# API Gateway's account settings (one per account and region): the role it
# writes access logs with. Off by default, see var.manage_api_gateway_account.
module "api_gateway_account" {
  source = "../../modules/api_gateway_account"
  count  = var.manage_api_gateway_account ? 1 : 0

  name = var.name
  tags = var.tags
}

# The WAF. It runs before the authorizer, so a flood is refused before it
# costs invocations (and before it eats the function's concurrency, whose
# throttles every other caller would see as 500s). WAF attaches to REST API
# stages only; an HTTP or WebSocket API needs CloudFront in front for one.

resource "aws_wafv2_web_acl" "this" {
  count = var.waf_rate_limit == null ? 0 : 1

  name  = var.name
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-by-ip"
    priority = 0

    # 429, not WAF's default 403: a client, and the access log, can tell a
    # rate limit from the authorizer's Deny.
    action {
      block {
        custom_response {
          response_code = 429
        }
      }
    }

    # Counted over WAF's default window of 300 s (evaluation_window_sec needs
    # a newer provider than this example asks for).
    statement {
      rate_based_statement {
        limit = var.waf_rate_limit
        # The client's address as API Gateway sees it. Behind a CloudFront of
        # your own that is CloudFront's edge, shared by many clients: count
        # the X-Forwarded-For address instead (aggregate_key_type =
        # "FORWARDED_IP" with a forwarded_ip_config).
        aggregate_key_type = "IP"
      }
    }

    # Sampled requests keep their headers, bearer tokens among them, for
    # hours: off. The access log says who was refused (wafResponseCode).
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-by-ip"
      sampled_requests_enabled   = false
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = false
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_rate_limit == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.prod.arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}
