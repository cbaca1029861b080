variable "region" {
  description = "AWS region of the API, the function, the bucket and the WAF (a REGIONAL web ACL must be in the API's region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name, such as eu-west-1."
  }
}

variable "name" {
  description = "Names the API, the function (and so the Function dimension of its metrics), its log groups, the alarms and the WAF, and begins the policy bucket's name, so S3's naming rules apply: lowercase letters, digits and hyphens."
  type        = string
  default     = "authz"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 24 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen (NAME-policy-ACCOUNT-REGION must fit S3's 63 characters)."
  }
}

variable "issuers" {
  description = "Trusted token issuers (the authorizer module's issuers, AUTHZ_ISSUERS): issuer and audiences required; profile okta, entra, adfs, cognito or generic. See the README's Issuers table for the other fields."
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
}

variable "package_path" {
  description = "The function's zip, relative to this folder: make package writes dist/authorizer.zip at the repository root (arm64, the authorizer module's default architecture)."
  type        = string
  default     = "../../../../dist/authorizer.zip"
}

variable "bundle_file" {
  description = "The signed policy bundle uploaded when the bucket is created, relative to this folder: make bundle DIR=... SIGNING_KEY=key.pem writes bundle.tar.gz at the repository root. Later bundles are CI's (aws s3 cp to the bundle_s3_uri output); Terraform never uploads again. Null leaves the bucket empty: the authorizer then denies every request (policy_not_ready) until a bundle is uploaded."
  type        = string
  default     = "../../../../bundle.tar.gz"
}

variable "bundle_public_key_file" {
  description = "PEM public key that every bundle's signature must verify with (AUTHZ_BUNDLE_PUBLIC_KEY), relative to this folder: openssl pkey -in key.pem -pubout -out key.pub.pem at the repository root. Without it, whoever can write the bundle object could change the policy."
  type        = string
  default     = "../../../../key.pub.pem"
}

variable "policy_bucket_name" {
  description = "Name of the policy bucket; null for NAME-policy-ACCOUNT-REGION, which is unique because S3 names are global."
  type        = string
  default     = null
}

# REST authorizers cache by identity source only: with a TTL, the IAM policy
# one call returned answers every later call with the same Authorization
# header, on any route of the API. That is safe with this authorizer because
# the policy it returns lists all of the caller's grants (every route the
# caller may call is an Allow, this one is a Deny if denied), not just the
# decision for the route that happened to miss the cache. A policy without
# grants needs a TTL of 0, or a route in the identity source.
variable "authorizer_ttl" {
  description = "Seconds API Gateway caches an authorizer answer per Authorization header (0 to 3600; 0 invokes the function for every request). Non-zero is safe only while the policy returns grants, as the default policy does: the cached IAM policy then covers the caller's other routes correctly."
  type        = number
  default     = 300

  validation {
    condition     = var.authorizer_ttl >= 0 && var.authorizer_ttl <= 3600 && floor(var.authorizer_ttl) == var.authorizer_ttl
    error_message = "authorizer_ttl must be a whole number of seconds from 0 to 3600 (API Gateway's limits)."
  }
}

variable "shadow_query" {
  description = "A candidate decision evaluated beside the live one and logged, never enforced (AUTHZ_SHADOW_QUERY), such as data.candidate.decision; null for none. When set, the shadow alarms are created too."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "ARNs (an SNS topic, typically) the alarms notify when they fire and when they clear; empty for alarms nobody is told about."
  type        = list(string)
  default     = []
}

variable "manage_api_gateway_account" {
  description = "Create the CloudWatch Logs role of API Gateway's account settings, which the stage's access log needs. Those settings are one per account and region, shared by every API there: set true only if none is set yet (the stage then fails with \"CloudWatch Logs role ARN must be set in account settings\") and no other stack manages it, or the last apply wins. Destroying this stack leaves the setting in place."
  type        = bool
  default     = false
}

variable "waf_rate_limit" {
  description = "Requests one IP address may make in 5 minutes before the WAF refuses it (429) without invoking the authorizer; null for no WAF. At least 100 (the least the AWS provider accepts before 5.66). The WAF decides before the authorizer, so a refused request costs no invocation."
  type        = number
  default     = 1000

  validation {
    condition     = var.waf_rate_limit == null ? true : var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be from 100 to 2,000,000,000 requests per 5 minutes, or null to leave the WAF out."
  }
}

variable "access_log_retention_days" {
  description = "Retention of the API's access log group (one line per request, with the authorizer's status and latency)."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.access_log_retention_days)
    error_message = "access_log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}
