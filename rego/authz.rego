# METADATA
# title: Default authorization policy
# schemas:
#   - input: schema.input
# description: |
#   Role-based access. The token's groups, roles and scopes bind to roles
#   (data.rbac.bindings); roles grant method and path patterns
#   (data.rbac.grants); some routes are public (data.rbac.public). Anything
#   no grant covers is denied. The decision always lists every grant of the
#   caller, so that API Gateway's authorizer cache answers the caller's other
#   requests exactly as this policy would.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"tenant": tenant, "roles": roles},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A request is allowed when one of the caller's grants covers it.
allow if some _ in matches

# METADATA
# description: Roles bound to the token's groups, roles and scopes.
roles contains role if {
	some kind in ["groups", "roles", "scopes"]
	some value in input.token[kind]
	some role in data.rbac.bindings[kind][value]
}

# METADATA
# description: |
#   Every grant of the caller, with where it comes from: public routes are
#   granted to everyone, with or without a token; the others come from roles.
granted contains {"grant": grant, "public": true} if {
	some grant in data.rbac.public
}

granted contains {"grant": grant, "role": role} if {
	some role in roles
	some grant in data.rbac.grants[role]
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

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

default tenant := ""

tenant := input.token.tenant

request_line := sprintf("%s %s", [input.request.method, input.request.path])

reasons contains sprintf("%s %s is public", [entry.grant.method, entry.grant.path]) if {
	some entry in matches
	entry.public
}

reasons contains sprintf("role %s grants %s %s", [entry.role, entry.grant.method, entry.grant.path]) if {
	some entry in matches
	entry.role
}

reasons contains "the token's group list is incomplete (overage): no role is bound from groups" if {
	input.token.groups_overage
}

reasons contains sprintf("no token, and %s is not public", [request_line]) if {
	not allow
	not input.token
}

reasons contains sprintf("no grant of the roles [%s] covers %s", [concat(", ", sort(roles)), request_line]) if {
	not allow
	input.token
}

# METADATA
# description: |
#   Why the decision came out as it did, in one word for the decision log and
#   metrics (the reasons say it in full, for people). One code per decision,
#   the first that applies:
#     public_route    allowed: a public route covers the request, token or not
#     role_grant      allowed: a role of the caller grants the request
#     not_public      denied: no token, and no public route covers the request
#     groups_overage  denied: the token's group list is incomplete (Entra
#                     overage) and a role bound to some group would cover
#                     the request, so the caller may have been entitled to it
#     no_grant        denied: a token, and no grant of its roles covers the request
code := "public_route" if {
	some entry in matches
	entry.public
} else := "role_grant" if {
	allow
} else := "not_public" if {
	not input.token
} else := "groups_overage" if {
	overage_hides_a_grant
} else := "no_grant"

# METADATA
# description: |
#   The token's group list is incomplete, and a role that some group binds
#   has a grant that covers the request: the missing groups may hold the
#   grant that would have allowed it.
overage_hides_a_grant if {
	input.token.groups_overage
	some bound in data.rbac.bindings.groups
	some role in bound
	some grant in data.rbac.grants[role]
	iam.covers(grant, input.request)
}
