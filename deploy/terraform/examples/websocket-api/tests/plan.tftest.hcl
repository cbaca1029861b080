# terraform test, offline (AWS mocked): the example plans, $connect is behind
# the authorizer, and the token's query parameter is the identity source.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  issuers = [{ issuer = "https://dev-123.okta.com/oauth2/default", audiences = ["api://default"], profile = "okta" }]
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_route.connect.authorization_type == "CUSTOM" && aws_apigatewayv2_authorizer.this.identity_sources == toset(["route.request.querystring.access_token"])
    error_message = "$connect is not authorized on the access_token query parameter"
  }

  assert {
    condition     = aws_apigatewayv2_stage.prod.default_route_settings[0].data_trace_enabled == false && !strcontains(aws_apigatewayv2_stage.prod.access_log_settings[0].format, "querystring")
    error_message = "a data trace or the access log would write the token"
  }
}
