# METADATA
# title: Groups to routes
# description: |
#   The token's groups (input.token.groups) are mapped to the method and path
#   patterns of data.access.groups; the routes of data.access.public need no
#   token; everything else is denied.
#
#   The decision lists every grant of the caller, whatever the request: API
#   Gateway's authorizer cache reuses one answer for all of the caller's
#   requests during its TTL, and the grants make it answer them as this policy
#   would. Compute grants from the token and data only, never from the request.
# schemas:
#   - input: schema.input
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"groups": granting_groups},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A request is allowed when one of the caller's grants covers it.
allow if some _ in matches

# METADATA
# description: Every grant of the caller, and what gives it.
granted contains {"grant": grant, "by": "public route"} if {
	some grant in data.access.public
}

granted contains {"grant": grant, "by": sprintf("group %s", [group])} if {
	some group in input.token.groups
	some grant in data.access.groups[group]
}

grants contains entry.grant if {
	some entry in granted
}

# METADATA
# description: The grants that cover this request, matched as IAM will match them.
matches contains entry if {
	some entry in granted
	iam.covers(entry.grant, input.request)
}

# METADATA
# description: The caller's groups that this policy knows, for the backend.
granting_groups contains group if {
	some group in input.token.groups
	data.access.groups[group]
}

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

reasons contains sprintf("%s grants %s %s", [entry.by, entry.grant.method, entry.grant.path]) if {
	some entry in matches
}

reasons contains sprintf("no grant covers %s %s", [input.request.method, input.request.path]) if {
	not allow
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics (lower snake case, from
#   a small fixed set; the reasons are for people). The first that applies:
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
