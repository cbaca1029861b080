variable "function_name" {
  description = "The authorizer's function name (the authorizer module's function_name output): the Function dimension of its metrics and the FunctionName dimension of AWS/Lambda's. Also prefixes every alarm's name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be a Lambda function name: 1 to 64 letters, digits, hyphens or underscores."
  }
}

variable "metrics_namespace" {
  description = "Namespace of the authorizer's metrics (the authorizer module's metrics_namespace output, AUTHZ_METRICS_NAMESPACE). Null when its metrics are off: then only the AWS/Lambda alarms are created, and the errors alarm cannot tell a crash from a 401."
  type        = string

  validation {
    condition     = var.metrics_namespace == null ? true : can(regex("^[A-Za-z0-9.\\-_/#: ]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be a custom CloudWatch namespace (1 to 255 letters, digits, . - _ / # : or spaces, not starting with AWS/), or null."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires and when it clears (an SNS topic, typically). Empty: the alarms still change state in the console, but nobody is told."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : startswith(arn, "arn:")])
    error_message = "alarm_actions must be ARNs (arn:...), such as an SNS topic's."
  }
}

variable "error_threshold" {
  description = "Decisions with the error outcome, per 5 minutes, that raise the alarm. Each is a 403 that a user sees for no fault of theirs, so 1 unless a known-noisy source (an unreachable identity provider at times) must be tolerated."
  type        = number
  default     = 1

  validation {
    condition     = var.error_threshold >= 1 && floor(var.error_threshold) == var.error_threshold
    error_message = "error_threshold must be a whole number, 1 or more."
  }
}

variable "latency_p99_ms" {
  description = "Budget for the decision's p99 latency in milliseconds (the Latency metric, the authorizer's own time, not API Gateway's). Warm decisions take well under a millisecond; the budget is what key-set fetches and bundle checks may add."
  type        = number
  default     = 250

  validation {
    condition     = var.latency_p99_ms > 0
    error_message = "latency_p99_ms must be above 0."
  }
}

variable "shadow" {
  description = "Alarm on ShadowDisagreements and ShadowErrors: set it while a shadow query (AUTHZ_SHADOW_QUERY) is rolled out. Without a shadow query these metrics are never written and the alarms would say nothing."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every alarm."
  type        = map(string)
  default     = {}
}
