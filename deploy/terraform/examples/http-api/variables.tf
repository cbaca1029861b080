variable "region" {
  description = "AWS region of the API, the authorizer and their log groups."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the HTTP API; also names the authorizer function, its role and log group, and the API's access log group."
  type        = string
  default     = "authz-http"
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

variable "backend_url" {
  description = "Your service, which the two routes proxy to, as the full URL each request goes to: API Gateway does not append the request's path, so name it with the route's variables, such as https://orders.internal.example.com/orders/{id}. It receives the caller's Authorization header, token and all: HTTP APIs cannot remove that header, so this must be a service you trust with your users' tokens, never a public echo service."
  type        = string

  validation {
    condition     = startswith(var.backend_url, "https://")
    error_message = "backend_url must be an https:// URL: the request carries the caller's token."
  }
}

variable "simple_responses" {
  description = "HTTP API simple responses ({isAuthorized, context}) instead of IAM policies. Sets both the authorizer's enable_simple_responses and the function's AUTHZ_HTTP_SIMPLE_RESPONSES, which must agree."
  type        = bool
  default     = true
}

# A non-zero TTL is safe while the decision depends only on the token and the
# route template. API Gateway caches each answer per value of the identity
# sources, and with simple responses that answer is one boolean for one route:
# main.tf therefore adds $context.routeKey to the identity sources whenever the
# TTL is above 0. But routeKey is the route template ("GET /orders/{id}"):
# /orders/1 and /orders/2 share one entry, as do every method of an ANY route
# and every path under {proxy+}. With simple responses, a policy that reads
# path parameters (as rego/examples/resource-ownership does) or the method of
# such a route needs TTL 0. With IAM policy responses (simple_responses =
# false) the cached policy lists the caller's grants, and the REST rule
# applies instead: safe when the grants are exactly what the caller may call.
variable "authorizer_ttl" {
  description = "Seconds API Gateway caches an authorizer answer (0 to 3600; 0 turns caching off). Non-zero is safe while the decision depends only on the token and the route template: see the comment above."
  type        = number
  default     = 300

  validation {
    condition     = var.authorizer_ttl >= 0 && var.authorizer_ttl <= 3600 && floor(var.authorizer_ttl) == var.authorizer_ttl
    error_message = "authorizer_ttl must be a whole number of seconds from 0 to 3600 (API Gateway's maximum)."
  }
}
