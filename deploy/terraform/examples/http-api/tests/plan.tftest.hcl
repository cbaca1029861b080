# terraform test, offline (AWS mocked): the example plans, and the HTTP API
# authorizer's settings follow its caching and simple-response switches.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  issuers     = [{ issuer = "https://dev-123.okta.com/oauth2/default", audiences = ["api://default"], profile = "okta" }]
  backend_url = "https://orders.internal.example.com/orders/{id}"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_authorizer.this.authorizer_payload_format_version == "2.0" && aws_apigatewayv2_authorizer.this.enable_simple_responses
    error_message = "payload 2.0 with simple responses"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.identity_sources == toset(["$request.header.Authorization", "$context.routeKey"])
    error_message = "cached simple responses must be keyed by the route too"
  }

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.orders : r.authorization_type == "CUSTOM"])
    error_message = "a route is not behind the authorizer"
  }
}

run "no_cache" {
  command = plan

  variables {
    authorizer_ttl = 0
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.identity_sources == toset(["$request.header.Authorization"])
    error_message = "without caching, the route key adds nothing"
  }
}

run "iam_policy_responses" {
  command = plan

  variables {
    simple_responses = false
  }

  assert {
    condition     = !aws_apigatewayv2_authorizer.this.enable_simple_responses
    error_message = "simple responses are still on"
  }
}

run "backend_over_plain_http" {
  command = plan

  variables {
    backend_url = "http://orders.internal.example.com/orders/{id}"
  }

  expect_failures = [var.backend_url]
}
