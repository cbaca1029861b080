# terraform test, offline: AWS is mocked (mock_provider), so these runs check
# what Terraform itself decides at plan time — validations, preconditions,
# the checks, the environment and the outputs — with Terraform's own
# functions and the AWS provider's schema. make deploy-check runs them when
# the AWS provider is installed locally (TF_PLUGIN_DIR), in a copy of
# deploy/terraform with an empty dist/authorizer.zip in place.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  name         = "authz"
  package_path = "../../../../dist/authorizer.zip"
  issuers      = [{ issuer = "https://dev-123.okta.com/oauth2/default", audiences = ["api://default"], profile = "okta" }]
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.runtime == "provided.al2023" && aws_lambda_function.this.handler == "bootstrap" && aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "the function is not bootstrap on provided.al2023, arm64"
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      AUTHZ_ISSUERS               = "[{\"audiences\":[\"api://default\"],\"issuer\":\"https://dev-123.okta.com/oauth2/default\",\"profile\":\"okta\"}]"
      AUTHZ_TOKEN_SOURCES         = "header:authorization"
      AUTHZ_HTTP_SIMPLE_RESPONSES = "true"
      AUTHZ_DECISION_LOG          = "true"
      AUTHZ_METRICS               = "emf"
      AUTHZ_METRICS_NAMESPACE     = "Authz"
      AUTHZ_LOG_LEVEL             = "info"
      AUTHZ_JWKS_COOLDOWN         = "15s"
      AUTHZ_IDP_TIMEOUT           = "3s"
      AUTHZ_TOKEN_CACHE           = "1024"
    })
    error_message = "the default environment is not the authorizer's defaults with the issuers: ${jsonencode(aws_lambda_function.this.environment[0].variables)}"
  }

  assert {
    condition     = aws_lambda_function.this.publish == false && length(aws_lambda_alias.live) == 0 && output.qualifier == null
    error_message = "without provisioned concurrency, versions are published or an alias is made"
  }

  assert {
    condition     = length(data.aws_iam_policy_document.permissions.statement) == 1 && data.aws_iam_policy_document.permissions.statement[0].actions == toset(["logs:CreateLogStream", "logs:PutLogEvents"])
    error_message = "with the embedded bundle, the role may do more than write its logs"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/authz" && aws_lambda_function.this.logging_config[0].log_format == "Text"
    error_message = "the log group or format"
  }
}

run "s3_bundle" {
  command = plan

  variables {
    bundle_bucket      = "acme-policies"
    bundle_public_key  = "/var/task/key.pub.pem"
    bundle_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/0b6c1a52-0000-4000-8000-000000000001"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["AUTHZ_BUNDLE"] == "s3://acme-policies/authz/bundle.tar.gz" && aws_lambda_function.this.environment[0].variables["AUTHZ_BUNDLE_POLL_INTERVAL"] == "60s"
    error_message = "AUTHZ_BUNDLE or its poll interval"
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.permissions.statement : s.resources if s.sid == "Bundle"] == [toset(["arn:aws:s3:::acme-policies/authz/bundle.tar.gz"])]
    error_message = "s3:GetObject is not on the bundle object alone"
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.permissions.statement : s.actions if s.sid == "BundleKey"] == [toset(["kms:Decrypt"])]
    error_message = "no kms:Decrypt with the bundle's key"
  }
}

run "provisioned_concurrency" {
  command = plan

  variables {
    provisioned_concurrency = 2
  }

  assert {
    condition     = aws_lambda_function.this.publish && aws_lambda_alias.live[0].name == "live" && output.qualifier == "live" && aws_lambda_provisioned_concurrency_config.live[0].provisioned_concurrent_executions == 2
    error_message = "provisioned concurrency needs a published version behind the alias API Gateway invokes"
  }
}

run "unsigned_s3_bundle_warns" {
  command = plan

  variables {
    bundle_bucket = "acme-policies"
  }

  expect_failures = [check.signed_bundle]
}

run "bucket_and_path_exclude_each_other" {
  command = plan

  variables {
    bundle_bucket     = "acme-policies"
    bundle_public_key = "/var/task/key.pub.pem"
    bundle_path       = "/var/task/bundle.tar.gz"
  }

  expect_failures = [aws_lambda_function.this]
}

run "opa_config_excludes_bucket" {
  command = plan

  variables {
    bundle_bucket     = "acme-policies"
    bundle_public_key = "/var/task/key.pub.pem"
    opa_config        = "/var/task/opa.yaml"
  }

  expect_failures = [aws_lambda_function.this]
}

run "environment_over_4kb" {
  command = plan

  variables {
    bundle_public_key = format("%4100s", "k")
  }

  expect_failures = [aws_lambda_function.this]
}

run "refuses_an_architecture_lambda_does_not_know" {
  command = plan

  variables {
    architecture = "amd64"
  }

  expect_failures = [var.architecture]
}

run "refuses_bad_values" {
  command = plan

  variables {
    timeout              = 60
    log_retention_days   = 2
    token_sources        = ["bearer"]
    bundle_key           = "authz/*"
    metrics_namespace    = "AWS/Lambda"
    log_level            = "verbose"
    bundle_poll_interval = "60"
    memory_size          = 64
  }

  expect_failures = [var.timeout, var.log_retention_days, var.token_sources, var.bundle_key, var.metrics_namespace, var.log_level, var.bundle_poll_interval, var.memory_size]
}

# Durations the binary refuses at start-up (a config_error that denies every
# request) are refused at plan time.
run "refuses_durations_the_binary_refuses" {
  command = plan

  variables {
    bundle_poll_interval = "500ms"
    jwks_cooldown        = "30m"
    idp_timeout          = "30s"
  }

  expect_failures = [var.bundle_poll_interval, var.jwks_cooldown, var.idp_timeout]
}

run "accepts_the_bounds" {
  command = plan

  variables {
    bundle_poll_interval = "24h"
    jwks_cooldown        = "1s"
    idp_timeout          = "100ms"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["AUTHZ_IDP_TIMEOUT"] == "100ms"
    error_message = "the bounds are refused"
  }
}

run "idp_timeout_within_the_function_timeout" {
  command = plan

  variables {
    timeout     = 3
    idp_timeout = "3s"
  }

  expect_failures = [aws_lambda_function.this]
}

run "refuses_bad_issuers" {
  command = plan

  variables {
    issuers = [{ issuer = "http://idp.example.com", audiences = [], profile = "keycloak" }]
  }

  expect_failures = [var.issuers]
}
