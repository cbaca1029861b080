# terraform test, offline (AWS mocked): the example plans with the values of
# terraform.tfvars.example, and its authorizer settings are as the README's
# table says. make deploy-check runs it in a copy of deploy/terraform with
# empty placeholders for the zip, the bundle and the key it reads.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  region  = "eu-west-1"
  issuers = [{ issuer = "https://dev-123.okta.com/oauth2/default", audiences = ["api://default"], profile = "okta" }]
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_api_gateway_authorizer.this.type == "REQUEST" && aws_api_gateway_authorizer.this.identity_source == "method.request.header.Authorization" && aws_api_gateway_authorizer.this.authorizer_result_ttl_in_seconds == 300
    error_message = "the REST authorizer is not a REQUEST authorizer on the Authorization header, cached 300 s"
  }

  assert {
    condition     = alltrue([for m in aws_api_gateway_method.order : m.authorization == "CUSTOM"])
    error_message = "a method is not behind the authorizer"
  }

  assert {
    condition     = aws_lambda_permission.authorizer.principal == "apigateway.amazonaws.com" && aws_lambda_permission.authorizer.action == "lambda:InvokeFunction"
    error_message = "the invoke permission"
  }

  assert {
    condition     = aws_api_gateway_gateway_response.unauthorized.status_code == "401" && aws_api_gateway_gateway_response.unauthorized.response_parameters["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"
    error_message = "the 401 does not name the Bearer scheme"
  }

  assert {
    condition     = !strcontains(aws_api_gateway_stage.prod.access_log_settings[0].format, "querystring") && strcontains(aws_api_gateway_stage.prod.access_log_settings[0].format, "$context.authorizer.error")
    error_message = "the access log must carry the authorizer's fields and never the query string"
  }

  assert {
    condition     = length(aws_wafv2_web_acl.this) == 1 && length(module.api_gateway_account) == 0
    error_message = "the WAF is on by default, and the account setting off"
  }

  assert {
    condition     = output.bundle_s3_uri == "s3://authz-policy-123456789012-eu-west-1/authz/bundle.tar.gz"
    error_message = "the bundle's S3 URI: ${output.bundle_s3_uri}"
  }
}

run "no_waf_no_cache" {
  command = plan

  variables {
    waf_rate_limit = null
    authorizer_ttl = 0
  }

  assert {
    condition     = length(aws_wafv2_web_acl.this) == 0 && aws_api_gateway_authorizer.this.authorizer_result_ttl_in_seconds == 0
    error_message = "the WAF or the cache is still on"
  }
}

run "ttl_beyond_api_gateways" {
  command = plan

  variables {
    authorizer_ttl = 3601
  }

  expect_failures = [var.authorizer_ttl]
}
