# METADATA
# title: OAuth scopes required per route
# schemas:
#   - input: schema.input
# description: |
#   Each route rule in data.scopes_per_route.routes names a method, a path
#   pattern and the OAuth scopes a token needs for it, all of them (an empty
#   list: any verified token). input.token.scopes is always an array, whether
#   the provider sent "scp" as an array (Okta, Entra) or "scope" as one
#   space-separated string. Routes in data.scopes_per_route.public need no
#   token. A request no rule covers is denied.
#
#   The grants are every route rule the token's scopes satisfy, whatever the
#   request, so that API Gateway's authorizer cache answers the caller's other
#   requests as this policy would.
#
#   Mind overlapping patterns: '*' crosses '/', so a rule for GET /orders/*
#   also covers GET /orders/1/audit, and a caller granted it may call that
#   route even if another rule asks more for it. A stricter rule cannot carve
#   a hole in a wider one: make the patterns of different scopes disjoint.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"client_id": client_id, "scopes": token_scopes},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A request is allowed when one of the caller's grants covers it.
allow if some _ in matches

# A set (empty without a token), for membership tests.
token_scopes := {s | some s in input.token.scopes}

# METADATA
# description: The route rules whose scopes the token has, all of them.
satisfied contains rule if {
	input.token
	some rule in data.scopes_per_route.routes
	every scope in rule.scopes {
		scope in token_scopes
	}
}

# METADATA
# description: Every grant of the caller and why.
granted contains {"grant": grant, "why": "is public"} if {
	some grant in data.scopes_per_route.public
}

granted contains {"grant": {"method": rule.method, "path": rule.path}, "why": why} if {
	some rule in satisfied
	why := sprintf("requires scopes [%s], which the token has", [concat(" ", rule.scopes)])
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
# description: Route rules that cover this request, and the scopes the token lacks for each.
unmet contains {"rule": rule, "missing": missing} if {
	input.token
	some rule in data.scopes_per_route.routes
	iam.covers(rule, input.request)
	missing := {s | some s in rule.scopes; not s in token_scopes}
	count(missing) > 0
}

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

default client_id := ""

client_id := input.token.client_id

request_line := sprintf("%s %s", [input.request.method, input.request.path])

reasons contains sprintf("%s %s %s", [entry.grant.method, entry.grant.path, entry.why]) if {
	some entry in matches
}

reasons contains sprintf("no token, and %s is not public", [request_line]) if {
	not allow
	not input.token
}

reasons contains sprintf("%s %s requires scopes [%s]; the token lacks [%s]", [u.rule.method, u.rule.path, concat(" ", u.rule.scopes), concat(" ", sort(u.missing))]) if {
	not allow
	some u in unmet
}

reasons contains sprintf("no route rule covers %s: denied by default", [request_line]) if {
	not allow
	input.token
	count(unmet) == 0
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics; the first that applies:
#     public_route    allowed: a public route covers the request
#     scope_grant     allowed: the token has every scope of a rule that covers the request
#     not_public      denied: no token, and the route is not public
#     missing_scopes  denied: rules cover the request, and the token lacks scopes of each
#     no_route        denied: no route rule covers the request
code := "public_route" if {
	some entry in matches
	entry.why == "is public"
} else := "scope_grant" if {
	allow
} else := "not_public" if {
	not input.token
} else := "missing_scopes" if {
	some _ in unmet
} else := "no_route"
