# The authorizer's Lambda function, its role, and its log group.
#
# The environment is built from typed variables; the tests of deploy/ hold its
# names to the binary's own table (internal/config.Variables) and runs the
# binary's configuration parser on what the examples produce.

data "aws_partition" "current" {}

locals {
  bundle = var.bundle_bucket != null ? "s3://${var.bundle_bucket}/${var.bundle_key}" : var.bundle_path

  # Null means unset: the authorizer's own default applies.
  environment = {
    AUTHZ_ISSUERS               = jsonencode([for issuer in var.issuers : { for field, value in issuer : field => value if value != null }])
    AUTHZ_TOKEN_SOURCES         = join(",", var.token_sources)
    AUTHZ_BUNDLE                = local.bundle
    AUTHZ_BUNDLE_PUBLIC_KEY     = var.bundle_public_key
    AUTHZ_BUNDLE_POLL_INTERVAL  = var.bundle_bucket != null ? var.bundle_poll_interval : null
    AUTHZ_OPA_CONFIG            = var.opa_config
    AUTHZ_JWKS_SNAPSHOT         = var.jwks_snapshot
    AUTHZ_QUERY                 = var.query
    AUTHZ_SHADOW_QUERY          = var.shadow_query
    AUTHZ_HTTP_SIMPLE_RESPONSES = tostring(var.http_simple_responses)
    AUTHZ_DECISION_LOG          = tostring(var.decision_log)
    AUTHZ_METRICS               = var.metrics ? "emf" : "off"
    AUTHZ_METRICS_NAMESPACE     = var.metrics_namespace
    AUTHZ_LOG_LEVEL             = var.log_level
    AUTHZ_JWKS_COOLDOWN         = var.jwks_cooldown
    AUTHZ_IDP_TIMEOUT           = var.idp_timeout
    AUTHZ_TOKEN_CACHE           = tostring(var.token_cache)
  }
  variables = { for name, value in local.environment : name => value if value != null }

  idp_timeout_ms = tonumber(regex("^[0-9]+", var.idp_timeout)) * lookup({ ms = 1, s = 1000 }, regex("[a-z]+$", var.idp_timeout))

  bundle_object_arn = var.bundle_bucket == null ? null : "arn:${data.aws_partition.current.partition}:s3:::${var.bundle_bucket}/${var.bundle_key}"
  published         = var.provisioned_concurrency > 0
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "Lambda"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# Logs to its own log group, and the bundle object when it comes from S3:
# nothing else. No managed policy is attached (AWSLambdaBasicExecutionRole
# would add logs:CreateLogGroup on every log group).
data "aws_iam_policy_document" "permissions" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.bundle_object_arn == null ? [] : [local.bundle_object_arn]

    content {
      sid       = "Bundle"
      actions   = ["s3:GetObject"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.bundle_object_arn != null && var.bundle_kms_key_arn != null ? [var.bundle_kms_key_arn] : []

    content {
      sid       = "BundleKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["s3.*.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  # IAM names are global to the account, function names regional: a prefix
  # lets the same name be deployed in two regions.
  name_prefix          = "${substr(var.name, 0, 37)}-"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "authorizer"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}

resource "aws_lambda_function" "this" {
  function_name    = var.name
  description      = "API Gateway authorizer: OIDC tokens, Rego policy"
  role             = aws_iam_role.this.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  memory_size      = var.memory_size
  timeout          = var.timeout
  publish          = local.published

  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency

  environment {
    variables = local.variables
  }

  # Text: each line the authorizer writes reaches CloudWatch as it is, so the
  # decision log stays one JSON object per line and its metrics are read.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  # The role's policy first, so that the first invocation can log.
  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = !(var.bundle_bucket != null && var.bundle_path != null)
      error_message = "bundle_bucket and bundle_path exclude each other: the policy comes from S3 or from the package."
    }

    precondition {
      condition     = !(var.opa_config != null && var.bundle_bucket != null)
      error_message = "opa_config excludes bundle_bucket: give the S3 bundle, its service and its keys in the OPA configuration, or use bundle_bucket without opa_config."
    }

    precondition {
      condition     = local.idp_timeout_ms + 1000 <= var.timeout * 1000
      error_message = "idp_timeout (${var.idp_timeout}) must leave at least a second of the function's timeout (${var.timeout} s): a cold start that waits for the identity provider would otherwise time out instead of answering."
    }

    precondition {
      condition     = sum([for name, value in local.variables : length(name) + length(value)]) <= 4096
      error_message = "the environment exceeds Lambda's 4 KB: put the bundle's public key (bundle_public_key) or the OPA configuration (opa_config) in the package and give their paths."
    }
  }
}

resource "aws_lambda_alias" "live" {
  count = local.published ? 1 : 0

  name             = "live"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = local.published ? 1 : 0

  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = aws_lambda_alias.live[0].name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

# A bundle fetched from S3 that nobody signed is a policy anyone who can write
# the object may change. A warning, not an error: a team may stage it.
check "signed_bundle" {
  assert {
    condition     = var.bundle_bucket == null || var.bundle_public_key != null
    error_message = "the bundle comes from S3 without bundle_public_key: whoever can write s3://${coalesce(var.bundle_bucket, "-")}/${var.bundle_key} can change the policy. Sign it (make bundle SIGNING_KEY=...) and set bundle_public_key."
  }
}
