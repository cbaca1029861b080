# METADATA
# title: Entra app roles, tenant isolation and group overage
# schemas:
#   - input: schema.input
# description: |
#   A multi-tenant API behind Microsoft Entra ID. Access comes from the app
#   roles assigned to the caller (input.token.roles, the "roles" claim, which
#   has no overage) and, secondarily, from security groups
#   (input.token.groups, object ids). Grants are templates in
#   data.entra_app_roles whose "{tenant}" is replaced by the caller's tenant
#   (input.token.tenant, the "tid" claim), so a caller of tenant A is granted
#   /tenants/A/... and nothing of tenant B, in this policy and in the IAM
#   policy API Gateway caches. A grant that could still reach another tenant
#   (a template that forgot "{tenant}", a "*" path) is left out, and a
#   request whose path names another tenant is refused with its own reason.
#
#   When a user is in too many groups, Entra leaves the groups out of the
#   token (groups overage; input.token.groups_overage is true). The list is
#   then incomplete, not empty: this policy applies no group rule at all on
#   overage, so a request only a group could allow is denied, and says why.
#   Prefer app roles, which have no overage.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"tenant": token_tenant, "roles": known_roles},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: |
#   A grant covers the request and the request stays in the caller's tenant.
#   The grants already stay inside the caller's tenant (confined); the second
#   condition checks the request itself, and its reason names the cause.
allow if {
	some _ in matches
	not cross_tenant
}

# METADATA
# description: |
#   The tenant is substituted into paths, where '*' and '?' are IAM wildcards:
#   only a tenant id (a lower-case GUID, as Entra issues "tid") is used.
tenant_is_an_id if regex.match(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, input.token.tenant)

default token_tenant := ""

token_tenant := input.token.tenant

# METADATA
# description: A grant template for the caller; undefined when it needs a tenant the caller lacks.
expand(template) := template if not contains(template.path, "{tenant}")

expand(template) := {"method": template.method, "path": replace(template.path, "{tenant}", input.token.tenant)} if {
	contains(template.path, "{tenant}")
	tenant_is_an_id
}

# METADATA
# description: Every grant the caller's identity earns, and where it comes from.
earned contains {"grant": expand(template), "by": "any signed-in user"} if {
	input.token
	some template in data.entra_app_roles.signed_in
}

earned contains {"grant": expand(template), "by": sprintf("app role %s", [role])} if {
	some role in input.token.roles
	some template in data.entra_app_roles.roles[role]
}

# Group rules only when the token lists every group of the caller.
earned contains {"grant": expand(template), "by": sprintf("group %s", [group.name])} if {
	not input.token.groups_overage
	some id in input.token.groups
	group := data.entra_app_roles.groups[id]
	some template in group.grants
}

# METADATA
# description: The earned grants that stay inside the caller's tenant.
granted contains entry if {
	some entry in earned
	confined(entry.grant)
}

grants contains entry.grant if {
	some entry in granted
}

# METADATA
# description: |
#   The grant's path pattern cannot match a path of another tenant: it starts
#   with the caller's /tenants/{tid}/, or it is a plain path that names no
#   other tenant, or the text before its first wildcard already leads away
#   from /tenants/ (like /orders/*; unlike *, /t* or /tenants/*).
confined(grant) if startswith(grant.path, sprintf("/tenants/%s/", [input.token.tenant]))

confined(grant) if {
	not regex.match(`[*?]`, grant.path)
	not names_another_tenant(grant.path)
}

confined(grant) if {
	literal := regex.replace(grant.path, `[*?].*`, "")
	not startswith(literal, "/tenants/")
	not startswith("/tenants/", literal)
}

names_another_tenant(path) if {
	parts := split(path, "/")
	parts[1] == "tenants"
	parts[2] != input.token.tenant
}

# METADATA
# description: The grants that cover this request.
matches contains entry if {
	some entry in granted
	iam.covers(entry.grant, input.request)
}

# METADATA
# description: The tenant a /tenants/{tid}/... path names.
path_tenant := parts[2] if {
	parts := split(input.request.path, "/")
	parts[1] == "tenants"
}

cross_tenant if path_tenant != token_tenant

# METADATA
# description: |
#   Groups whose rules would cover this request but cannot be applied, because
#   the token's group list is incomplete.
unprovable_groups contains group.name if {
	input.token.groups_overage
	some group in data.entra_app_roles.groups
	some template in group.grants
	iam.covers(expand(template), input.request)
}

known_roles contains role if {
	some role in input.token.roles
	data.entra_app_roles.roles[role]
}

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

request_line := sprintf("%s %s", [input.request.method, input.request.path])

reasons contains sprintf("%s grants %s %s", [entry.by, entry.grant.method, entry.grant.path]) if {
	some entry in matches
}

reasons contains sprintf("%s would grant %s %s, which reaches beyond the caller's tenant: left out", [entry.by, entry.grant.method, entry.grant.path]) if {
	some entry in earned
	not confined(entry.grant)
}

reasons contains sprintf("tenant isolation: the path names tenant %q, the caller's tenant is %q", [path_tenant, token_tenant]) if {
	cross_tenant
}

reasons contains sprintf("the token's tenant %q is not a tenant id: no tenant route is granted", [input.token.tenant]) if {
	not tenant_is_an_id
}

reasons contains "the token's group list is incomplete (Entra groups overage): no group rule is applied" if {
	input.token.groups_overage
}

reasons contains sprintf("%s is granted to group %s, which this token cannot show (overage): assign an app role instead", [request_line, name]) if {
	not allow
	some name in unprovable_groups
}

reasons contains sprintf("no token: %s needs a signed-in caller", [request_line]) if {
	not input.token
}

reasons contains sprintf("no grant of the app roles [%s] covers %s", [concat(", ", sort(known_roles)), request_line]) if {
	not allow
	input.token
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics; the first that applies:
#     not_public      denied: no token (nothing here is public)
#     cross_tenant    denied: the path names another tenant than the caller's
#     role_grant      allowed: an app role of the caller grants the request
#     group_grant     allowed: a group of the caller grants the request
#     signed_in       allowed: granted to any signed-in user
#     groups_overage  denied: only a group could grant the request, and the
#                     token cannot show its groups (overage)
#     no_grant        denied: nothing the caller has covers the request
code := "not_public" if {
	not input.token
} else := "cross_tenant" if {
	cross_tenant
} else := "role_grant" if {
	allow
	some entry in matches
	startswith(entry.by, "app role ")
} else := "group_grant" if {
	allow
	some entry in matches
	startswith(entry.by, "group ")
} else := "signed_in" if {
	allow
} else := "groups_overage" if {
	some _ in unprovable_groups
} else := "no_grant"
