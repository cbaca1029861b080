# METADATA
# title: Okta groups to routes
# schemas:
#   - input: schema.input
# description: |
#   The usual Okta setup: the custom authorization server puts a "groups" claim
#   in access tokens (Security > API > Authorization Servers > Claims, with a
#   group filter), the authorizer reads it into input.token.groups, and
#   data.okta_groups.groups maps each group name to the method and path
#   patterns its members may call. Routes in data.okta_groups.public need no
#   token. Everything else is denied.
#
#   The decision always lists every grant of the caller, whatever the request,
#   so that API Gateway's authorizer cache, which reuses one answer for all of
#   the caller's requests during its TTL, answers them as this policy would.
#
#   Group names are matched exactly. When several issuers are configured, their
#   group names share this one map: restrict it with input.token.issuer if two
#   providers could both emit a group of the same name.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"email": email, "groups": granting_groups},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A request is allowed when one of the caller's grants covers it.
allow if some _ in matches

# METADATA
# description: |
#   Every grant of the caller and where it comes from: public routes for
#   everyone (with or without a token), the rest from the caller's groups.
granted contains {"grant": grant, "by": "public route"} if {
	some grant in data.okta_groups.public
}

granted contains {"grant": grant, "by": sprintf("group %s", [group])} if {
	some group in input.token.groups
	some grant in data.okta_groups.groups[group]
}

grants contains entry.grant if {
	some entry in granted
}

# METADATA
# description: The grants that cover this request.
matches contains entry if {
	some entry in granted
	iam.covers(entry.grant, input.request)
}

# METADATA
# description: The caller's groups that this policy knows, for the backend's context.
granting_groups contains group if {
	some group in input.token.groups
	data.okta_groups.groups[group]
}

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

default email := ""

email := input.token.email

request_line := sprintf("%s %s", [input.request.method, input.request.path])

reasons contains sprintf("%s grants %s %s", [entry.by, entry.grant.method, entry.grant.path]) if {
	some entry in matches
}

reasons contains sprintf("no token, and %s is not a public route", [request_line]) if {
	not allow
	not input.token
}

reasons contains sprintf("no grant of the groups [%s] covers %s", [concat(", ", sort(granting_groups)), request_line]) if {
	not allow
	input.token
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics; the first that applies:
#     public_route  allowed: a public route covers the request
#     group_grant   allowed: a group of the caller grants the request
#     not_public    denied: no token, and the route is not public
#     no_grant      denied: no grant of the caller's groups covers the request
code := "public_route" if {
	some entry in matches
	entry.by == "public route"
} else := "group_grant" if {
	allow
} else := "not_public" if {
	not input.token
} else := "no_grant"
