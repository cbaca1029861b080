# Alarms on the authorizer: its own metrics (the Embedded Metric Format lines
# of its decision log, namespace var.metrics_namespace, dimension Function) and
# AWS/Lambda's (dimension FunctionName).
#
# Every metric here is written only when something happens: no decision, no
# data point. treat_missing_data = "notBreaching" keeps a quiet API, or a
# function with no traffic yet, from raising INSUFFICIENT_DATA alarms that
# teach people to ignore these ones.
#
# Metric names and dimensions are the binary's own (internal/decisionlog:
# Published); deploy/alarms_test.go holds them to it. A misspelt dimension would
# not fail: it would alarm on a metric that never exists, silently.

locals {
  # The authorizer module's metrics_namespace output is null when its metrics
  # are off. Its own metrics then do not exist, and only the AWS/Lambda alarms
  # are worth creating.
  custom = var.metrics_namespace != null
}

# Every error outcome is a 403 for a request that may well have been
# legitimate: the authorizer could not decide, so it denied.
resource "aws_cloudwatch_metric_alarm" "error_outcomes" {
  count = local.custom ? 1 : 0

  alarm_name        = "${var.function_name}-error-outcomes"
  alarm_description = "The authorizer could not decide and denied (403): a configuration, policy or identity-provider failure, not a caller's. Find the reason: the Decisions metric by Reason, or Logs Insights on /aws/lambda/${var.function_name}: filter custom.outcome = \"error\" | stats count(*) by custom.reason. config_error: fix the AUTHZ_* environment and redeploy; idp_unavailable: the issuer's discovery or key endpoint is unreachable; policy_error/decision_*: the policy failed on this input, roll the bundle back; policy_not_ready: see that alarm."

  namespace   = var.metrics_namespace
  metric_name = "Decisions"
  dimensions  = { Function = var.function_name, Outcome = "error" }
  statistic   = "Sum"
  period      = 300

  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.error_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# Checked every minute, on any single occurrence: while no bundle is active the
# authorizer denies everything, so this is an outage, not a trend.
resource "aws_cloudwatch_metric_alarm" "policy_not_ready" {
  count = local.custom ? 1 : 0

  alarm_name        = "${var.function_name}-policy-not-ready"
  alarm_description = "No policy bundle activated: the authorizer denies every request (403) until one activates. Check the BundleFailures metric and the 'policy' log lines in /aws/lambda/${var.function_name} ('no policy bundle activated at start-up', 'checking for a new policy bundle failed'): is the bundle object there, readable by the function's role, and signed with the key in AUTHZ_BUNDLE_PUBLIC_KEY? Upload a good bundle; the function picks it up within a poll interval."

  namespace   = var.metrics_namespace
  metric_name = "Decisions"
  dimensions  = { Function = var.function_name, Outcome = "error", Reason = "policy_not_ready" }
  statistic   = "Sum"
  period      = 60

  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# A failed bundle is not yet an outage (the last good policy stays in force),
# so a longer period: it is the policy pipeline that is broken, and the next
# cold start without a good bundle will be policy_not_ready.
resource "aws_cloudwatch_metric_alarm" "bundle_failures" {
  count = local.custom ? 1 : 0

  alarm_name        = "${var.function_name}-bundle-failures"
  alarm_description = "A policy bundle could not be downloaded, verified or compiled; the last good policy is still in force, but a new cold start may have none. Read the 'policy' log lines in /aws/lambda/${var.function_name} ('checking for a new policy bundle failed', 'OPA activated a policy bundle the authorizer cannot use') for the error, then fix and re-upload the bundle, signed with the key the function trusts."

  namespace   = var.metrics_namespace
  metric_name = "BundleFailures"
  dimensions  = { Function = var.function_name }
  statistic   = "Sum"
  period      = 900

  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# The point of a shadow query is to learn, before enforcing it, where the
# candidate policy would answer differently.
resource "aws_cloudwatch_metric_alarm" "shadow_disagreements" {
  count = var.shadow && local.custom ? 1 : 0

  alarm_name        = "${var.function_name}-shadow-disagreements"
  alarm_description = "The shadow query decided differently from the live policy: promoting it would change these responses. Do not promote yet; list the requests with Logs Insights on /aws/lambda/${var.function_name}: filter ispresent(custom.shadow.allow) | stats count(*) by input.request.route_key, custom.outcome, custom.shadow.allow, and decide whether each change is intended."

  namespace   = var.metrics_namespace
  metric_name = "ShadowDisagreements"
  dimensions  = { Function = var.function_name }
  statistic   = "Sum"
  period      = 300

  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# A shadow that cannot decide agrees with nothing: its disagreements count
# says too little while it errors.
resource "aws_cloudwatch_metric_alarm" "shadow_errors" {
  count = var.shadow && local.custom ? 1 : 0

  alarm_name        = "${var.function_name}-shadow-errors"
  alarm_description = "The shadow query failed to decide (it does not compile on this bundle, or errs on some input); the live policy still decides. Read the log line 'the shadow query does not compile on this policy' or the decisions' custom.shadow in /aws/lambda/${var.function_name}, and fix the candidate policy before trusting its disagreements."

  namespace   = var.metrics_namespace
  metric_name = "ShadowErrors"
  dimensions  = { Function = var.function_name }
  statistic   = "Sum"
  period      = 300

  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# Three periods in a row. CloudWatch needs 1,000 samples in a period to call
# a p99 reliable, more cache misses than most authorizers see in 5 minutes,
# so low sample counts are evaluated rather than ignored (ignored, the alarm
# would never leave its first state). In a quiet period the p99 is about the
# slowest decision, and one slow key-set fetch or bundle check is nobody's
# problem: only 15 minutes of slow periods alarm.
resource "aws_cloudwatch_metric_alarm" "latency" {
  count = local.custom ? 1 : 0

  alarm_name        = "${var.function_name}-latency-p99"
  alarm_description = "The authorizer's p99 decision time is above ${var.latency_p99_ms} ms, and every request that misses API Gateway's cache waits for it. Compare VerifyTime and EvalTime to find the part: key-set fetches (JWKSFetches: an identity provider that is slow, or tokens with unknown kids), a slow policy, or too little memory (Lambda's CPU follows memory_size)."

  namespace          = var.metrics_namespace
  metric_name        = "Latency"
  dimensions         = { Function = var.function_name }
  extended_statistic = "p99"
  period             = 300

  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.latency_p99_ms
  treat_missing_data  = "notBreaching"

  evaluate_low_sample_count_percentiles = "evaluate"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# Lambda counts the authorizer's 401 as a function error: API Gateway answers
# 401 only to an error whose text is "Unauthorized", so every rejected token is
# one. A plain Errors > 0 alarm would fire on every unauthenticated request.
# With the metrics on, the unauthorized outcomes are subtracted, and what is
# left is what clients saw as 500: a crash, an out-of-memory kill, a timeout, a
# binary that does not start.
resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name        = "${var.function_name}-lambda-errors"
  alarm_description = "Authorizer invocations failed (beyond the 401s, which Lambda also counts as errors${local.custom ? " and this alarm subtracts" : ": with the metrics off this alarm cannot tell them apart"}); API Gateway answered 500 (AUTHORIZER_FAILURE) to those clients. Read /aws/lambda/${var.function_name} for Runtime.* errors, 'Task timed out' or an out-of-memory REPORT line; Runtime.InvalidEntrypoint means the package's architecture does not match the function's."

  metric_query {
    id = "m1"

    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = var.function_name }
      stat        = "Sum"
      period      = 300
    }
  }

  dynamic "metric_query" {
    for_each = local.custom ? [var.metrics_namespace] : []

    content {
      id = "m2"

      metric {
        namespace   = metric_query.value
        metric_name = "Decisions"
        dimensions  = { Function = var.function_name, Outcome = "unauthorized" }
        stat        = "Sum"
        period      = 300
      }
    }
  }

  metric_query {
    id          = "e1"
    label       = local.custom ? "Errors other than 401" : "Errors, 401s included"
    expression  = local.custom ? "m1 - FILL(m2, 0)" : "m1"
    return_data = true
  }

  # Two periods in a row: a 401 at a period's edge may land in a different
  # period in the two metrics and make a difference of one that is not a crash.
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}

# API Gateway does not retry a throttled authorizer: the client gets a 500.
resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  alarm_name        = "${var.function_name}-lambda-throttles"
  alarm_description = "Authorizer invocations were throttled, and API Gateway answered 500 to each. Raise the function's reserved concurrency (or the account's concurrency quota), raise the authorizer's cache TTL so fewer requests invoke it, or rate-limit the flood before it (WAF)."

  namespace   = "AWS/Lambda"
  metric_name = "Throttles"
  dimensions  = { FunctionName = var.function_name }
  statistic   = "Sum"
  period      = 300

  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}
