# The function

variable "name" {
  description = "Name of the Lambda function; also names its role and log group (/aws/lambda/NAME) and is the Function dimension of its metrics."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1 to 64 letters, digits, hyphens or underscores (a Lambda function name)."
  }
}

variable "package_path" {
  description = "Path of the zip that `make package` builds: dist/authorizer.zip at the root of the repository, with bootstrap and any PACKAGE_FILES in it."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must be the .zip that make package writes (dist/authorizer.zip)."
  }
}

variable "architecture" {
  description = "Lambda architecture: arm64 (make package, the default) or x86_64 (make package ARCH=amd64). It must match the binary in the zip, or every invocation fails with Runtime.InvalidEntrypoint."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64 (build with make package ARCH=amd64 for x86_64)."
  }
}

variable "memory_size" {
  description = "Memory in MB. Lambda gives CPU in proportion to memory: below 256 MB cold starts and key-set verification slow down."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. The authorizer answers Deny 100 ms before it, and an identity provider fetch is bounded by idp_timeout, so keep it above idp_timeout plus a second. API Gateway waits for an authorizer at most 10 s (HTTP API) or 29 s (REST)."
  type        = number
  default     = 5

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 29
    error_message = "timeout must be between 1 and 29 seconds: API Gateway gives up on an authorizer before Lambda's longer limits."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null for the account's unreserved pool. Throttled authorizer invocations reach clients as 500 (REST) or 503: reserve enough for the peak of cache misses."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null ? true : var.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be 0 or more, or null."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrency (warm instances, no cold starts), 0 for none. When above 0, each apply publishes a version behind the alias \"live\", and API Gateway must invoke the alias: use the module's invoke_arn and qualifier outputs."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0
    error_message = "provisioned_concurrency must be 0 or more."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, which holds the decision log and the metrics' source lines."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key to encrypt the log group with; null for CloudWatch's own encryption. The key's policy must let CloudWatch Logs use it."
  type        = string
  default     = null
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the function's role, where the organisation requires one; null for none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

# What the authorizer trusts (AUTHZ_ISSUERS, AUTHZ_TOKEN_SOURCES)

variable "issuers" {
  description = "Trusted issuers, written to AUTHZ_ISSUERS as JSON. Fields as in the README's Issuers table: issuer and audiences are required; profile is okta, entra, adfs, cognito or generic; claims takes lists of claim names, such as { groups = [\"groups\"] }, where AUTHZ_ISSUERS also takes a single string."
  type = list(object({
    issuer               = string
    audiences            = list(string)
    profile              = optional(string)
    jwks_uri             = optional(string)
    algorithms           = optional(list(string))
    tenants              = optional(list(string))
    access_token_issuer  = optional(string)
    claims               = optional(map(list(string)))
    split                = optional(map(string))
    clients              = optional(list(string))
    accept_id_tokens     = optional(bool)
    leeway_seconds       = optional(number)
    max_lifetime_seconds = optional(number)
  }))

  validation {
    condition     = length(var.issuers) > 0
    error_message = "issuers must name at least one issuer: the authorizer refuses to start without AUTHZ_ISSUERS."
  }

  validation {
    condition     = alltrue([for i in var.issuers : startswith(i.issuer, "https://") && length(i.audiences) > 0])
    error_message = "every issuer must be an https:// URL with at least one audience."
  }

  validation {
    condition     = alltrue([for i in var.issuers : i.profile == null ? true : contains(["okta", "entra", "adfs", "cognito", "generic"], i.profile)])
    error_message = "an issuer's profile must be okta, entra, adfs, cognito or generic."
  }
}

variable "token_sources" {
  description = "Where the token may be, first present wins (AUTHZ_TOKEN_SOURCES): header:NAME, cookie:NAME or query:NAME. The API's identity sources must name the same places when its authorizer caches."
  type        = list(string)
  default     = ["header:authorization"]

  validation {
    condition     = length(var.token_sources) > 0 && alltrue([for s in var.token_sources : can(regex("^(header|cookie|query):[^,:\\s]+$", s))])
    error_message = "token_sources must be a non-empty list of header:NAME, cookie:NAME or query:NAME."
  }
}

# The policy (AUTHZ_BUNDLE, AUTHZ_BUNDLE_PUBLIC_KEY, AUTHZ_BUNDLE_POLL_INTERVAL, AUTHZ_QUERY, AUTHZ_SHADOW_QUERY, AUTHZ_OPA_CONFIG)

variable "bundle_bucket" {
  description = "S3 bucket of the policy bundle; null for the bundle embedded in the binary (or bundle_path in the package). The role gets s3:GetObject on bundle_key in it, and nothing else."
  type        = string
  default     = null
}

variable "bundle_key" {
  description = "Key of the bundle object in bundle_bucket, such as authz/bundle.tar.gz."
  type        = string
  default     = "authz/bundle.tar.gz"

  validation {
    condition     = length(var.bundle_key) > 0 && !startswith(var.bundle_key, "/") && !strcontains(var.bundle_key, "*")
    error_message = "bundle_key must be an object key: not empty, no leading /, no *."
  }
}

variable "bundle_kms_key_arn" {
  description = "KMS key the bundle object is encrypted with, when the bucket uses SSE-KMS; the role may then decrypt with it, through S3 only. Null for SSE-S3."
  type        = string
  default     = null
}

variable "bundle_path" {
  description = "A bundle in the function package instead (a .tar.gz or directory added with make package PACKAGE_FILES=...), such as /var/task/bundle.tar.gz; null for none. Excludes bundle_bucket."
  type        = string
  default     = null
}

variable "bundle_public_key" {
  description = "PEM public key (or a path in the package, such as /var/task/key.pub.pem) that every bundle's OPA signature must verify with (AUTHZ_BUNDLE_PUBLIC_KEY). Set it whenever the bundle comes from S3: whoever can write the object can otherwise change the policy."
  type        = string
  default     = null
}

variable "bundle_poll_interval" {
  description = "How often the S3 bundle is checked for a new revision (AUTHZ_BUNDLE_POLL_INTERVAL): a whole number of ms, s, m or h from 1s to 24h, such as 60s; \"0\" reads it once."
  type        = string
  default     = "60s"

  # The authorizer's own bounds: a value it refuses would pass the plan and
  # then deny every request as a configuration error.
  validation {
    condition     = var.bundle_poll_interval == "0" || try(tonumber(regex("^[0-9]+", var.bundle_poll_interval)) * lookup({ ms = 1, s = 1000, m = 60000, h = 3600000 }, regex("[a-z]+$", var.bundle_poll_interval)) >= 1000 && tonumber(regex("^[0-9]+", var.bundle_poll_interval)) * lookup({ ms = 1, s = 1000, m = 60000, h = 3600000 }, regex("[a-z]+$", var.bundle_poll_interval)) <= 86400000, false)
    error_message = "bundle_poll_interval must be a duration from 1s to 24h, such as 30s, 5m or 1h, or 0."
  }
}

variable "opa_config" {
  description = "A standard OPA configuration, YAML or JSON (AUTHZ_OPA_CONFIG): services, bundles, keys, decision_logs, labels. When it names bundles, leave bundle_bucket and bundle_path null, and grant the role what its services need (role_name output)."
  type        = string
  default     = null
}

variable "query" {
  description = "The decision document (AUTHZ_QUERY); null for data.authz.decision."
  type        = string
  default     = null
}

variable "shadow_query" {
  description = "A second decision evaluated on the same input and logged, never enforced (AUTHZ_SHADOW_QUERY), such as data.candidate.decision; null for none."
  type        = string
  default     = null
}

# Responses, logs and metrics

variable "http_simple_responses" {
  description = "For HTTP API payload 2.0: answer {isAuthorized, context} (AUTHZ_HTTP_SIMPLE_RESPONSES). Must equal the HTTP API authorizer's enable_simple_responses."
  type        = bool
  default     = true
}

variable "decision_log" {
  description = "One JSON decision-log line per decision (AUTHZ_DECISION_LOG). When false, only error outcomes are logged; the metrics still count every decision."
  type        = bool
  default     = true
}

variable "metrics" {
  description = "CloudWatch Embedded Metric Format metrics in the log lines (AUTHZ_METRICS = emf or off). The alarms module reads them."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics (AUTHZ_METRICS_NAMESPACE)."
  type        = string
  default     = "Authz"

  validation {
    condition     = can(regex("^[A-Za-z0-9.\\-_/#: ]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 letters, digits or . - _ / # : and spaces, not starting with AWS/."
  }
}

variable "log_level" {
  description = "debug, info, warn or error (AUTHZ_LOG_LEVEL)."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "jwks_cooldown" {
  description = "Least time between two fetches of a key set (AUTHZ_JWKS_COOLDOWN), 1s to 10m."
  type        = string
  default     = "15s"

  validation {
    condition     = try(tonumber(regex("^[0-9]+", var.jwks_cooldown)) * lookup({ ms = 1, s = 1000, m = 60000, h = 3600000 }, regex("[a-z]+$", var.jwks_cooldown)) >= 1000 && tonumber(regex("^[0-9]+", var.jwks_cooldown)) * lookup({ ms = 1, s = 1000, m = 60000, h = 3600000 }, regex("[a-z]+$", var.jwks_cooldown)) <= 600000, false)
    error_message = "jwks_cooldown must be a duration from 1s to 10m, such as 15s."
  }
}

variable "idp_timeout" {
  description = "Bound on each fetch of a discovery document or key set (AUTHZ_IDP_TIMEOUT), 100ms to 10s. Keep it below the function's timeout."
  type        = string
  default     = "3s"

  validation {
    condition     = try(tonumber(regex("^[0-9]+", var.idp_timeout)) * lookup({ ms = 1, s = 1000, m = 60000, h = 3600000 }, regex("[a-z]+$", var.idp_timeout)) >= 100 && tonumber(regex("^[0-9]+", var.idp_timeout)) * lookup({ ms = 1, s = 1000, m = 60000, h = 3600000 }, regex("[a-z]+$", var.idp_timeout)) <= 10000, false)
    error_message = "idp_timeout must be a duration from 100ms to 10s, such as 3s or 1500ms."
  }
}

variable "jwks_snapshot" {
  description = "Path in the package of a key-set snapshot from authz jwks snapshot (AUTHZ_JWKS_SNAPSHOT), such as jwks-snapshot.json; null for none."
  type        = string
  default     = null
}

variable "token_cache" {
  description = "How many verified tokens are remembered until their exp, while the key set that verified them is unchanged (AUTHZ_TOKEN_CACHE); 0 verifies every token every time."
  type        = number
  default     = 1024

  validation {
    condition     = var.token_cache >= 0 && var.token_cache <= 100000 && floor(var.token_cache) == var.token_cache
    error_message = "token_cache must be a whole number from 0 to 100000."
  }
}
