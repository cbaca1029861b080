variable "region" {
  description = "AWS region of the API, the authorizer and their log groups."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the WebSocket API; also names the authorizer function, its role and log group, and the API's access log group."
  type        = string
  default     = "authz-ws"
}

# The module's own type, copied: a root module cannot refer to it, and an
# attribute missing here would be dropped before it reached the module.
variable "issuers" {
  description = "Trusted issuers, passed to the authorizer module (AUTHZ_ISSUERS). issuer and audiences are required; see the README's Issuers table for the other fields."
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

variable "alarm_actions" {
  description = "ARNs (SNS topics, usually) notified when an authorizer alarm fires or recovers; empty, the alarms only change state in CloudWatch."
  type        = list(string)
  default     = []
}

variable "package_path" {
  description = "The zip make package writes (dist/authorizer.zip at the repository root), relative to this folder."
  type        = string
  default     = "../../../../dist/authorizer.zip"
}

variable "manage_api_gateway_account" {
  description = "Create the CloudWatch Logs role of API Gateway's account settings, which the stage's access log needs. Those settings are one per account and region, shared by every API there: set true only if none is set yet (the stage then fails with \"CloudWatch Logs role ARN must be set in account settings\") and no other stack manages it, or the last apply wins. Destroying this stack leaves the setting in place."
  type        = bool
  default     = false
}
