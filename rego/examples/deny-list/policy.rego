# METADATA
# title: Deny rules that win over any allow
# schemas:
#   - input: schema.input
# description: |
#   Group grants as usual (data.deny_list.groups, public routes in
#   data.deny_list.public), and explicit deny rules that override them, each
#   with a human-readable reason kept in data next to the entry: blocked
#   subjects, blocked OAuth clients, suspended tenants, blocked groups, and a
#   maintenance switch for the whole API. Every deny that fires is listed in
#   the reasons, not only the first.
#
#   Each deny here depends on the identity (or on nothing, for maintenance),
#   never on the route: a denied caller is denied everywhere and gets no
#   grants, so the answer API Gateway caches for the caller's token refuses
#   their other requests too. A deny that depends on the route would have to
#   take the denied routes out of the grants as well.
#
#   A blocked-group rule needs the full group list. When Entra leaves groups
#   out of a token (overage), "member of no blocked group" cannot be known,
#   so the caller is denied rather than let through.
#
#   Cached answers outlive changes: after a subject is blocked or maintenance
#   is switched on (and the bundle reloaded), API Gateway keeps serving the
#   answers it cached earlier for up to the authorizer's TTL (300 s by
#   default). Keep the TTL as short as that delay may be.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"tenant": tenant},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A grant covers the request and no deny rule fired.
allow if {
	count(deny) == 0
	some _ in matches
}

# METADATA
# description: |
#   Every deny rule that fired: its code, one word for the decision log and
#   metrics, and its reason, for people.
denials contains {"code": "maintenance", "reason": sprintf("maintenance: %s", [data.deny_list.maintenance.message])} if {
	data.deny_list.maintenance.enabled == true
}

denials contains {"code": "blocked_subject", "reason": sprintf("subject %s is blocked: %s", [input.token.subject, why])} if {
	why := data.deny_list.blocked_subjects[input.token.subject]
}

denials contains {"code": "blocked_client", "reason": sprintf("client %s is blocked: %s", [input.token.client_id, why])} if {
	why := data.deny_list.blocked_clients[input.token.client_id]
}

denials contains {"code": "suspended_tenant", "reason": sprintf("tenant %s is suspended: %s", [input.token.tenant, why])} if {
	why := data.deny_list.suspended_tenants[input.token.tenant]
}

denials contains {"code": "blocked_group", "reason": sprintf("group %s is blocked: %s", [group, why])} if {
	some group in input.token.groups
	why := data.deny_list.blocked_groups[group]
}

denials contains {
	"code": "groups_overage",
	"reason": "the token's group list is incomplete (Entra groups overage): the blocked groups cannot be checked",
} if {
	input.token.groups_overage
	count(data.deny_list.blocked_groups) > 0
}

# METADATA
# description: Every deny rule that fired, as a reason.
deny contains denial.reason if {
	some denial in denials
}

# METADATA
# description: |
#   Which deny code is the decision's when several rules fired: the first of
#   this list that fired. A code missing from it comes after them all.
deny_order := ["maintenance", "blocked_subject", "blocked_client", "suspended_tenant", "blocked_group", "groups_overage"]

# METADATA
# description: The code of the deny rules that fired, in the order of deny_order.
deny_code := codes[0] if {
	fired := {denial.code | some denial in denials}
	ordered := [c | some c in deny_order; c in fired]
	codes := array.concat(ordered, sort([c | some c in fired; not c in deny_order]))
}

# METADATA
# description: Every grant of the caller and where it comes from.
granted contains {"grant": grant, "by": "public route"} if {
	some grant in data.deny_list.public
}

granted contains {"grant": grant, "by": sprintf("group %s", [group])} if {
	some group in input.token.groups
	some grant in data.deny_list.groups[group]
}

# METADATA
# description: |
#   The grants, or none when a deny fired: every deny applies to all of the
#   caller's requests, and the cached answer must say so.
grants contains entry.grant if {
	count(deny) == 0
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

# METADATA
# description: Every deny that fired; otherwise what allowed the request, or why nothing did.
reasons contains why if {
	some why in deny
}

reasons contains sprintf("%s grants %s %s", [entry.by, entry.grant.method, entry.grant.path]) if {
	count(deny) == 0
	some entry in matches
}

reasons contains sprintf("no token, and %s is not a public route", [request_line]) if {
	count(deny) == 0
	not allow
	not input.token
}

reasons contains sprintf("no grant of the caller covers %s", [request_line]) if {
	count(deny) == 0
	not allow
	input.token
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics; the first that applies:
#     (a deny code)  denied: a deny rule fired (maintenance, blocked_subject,
#                    blocked_client, suspended_tenant, blocked_group,
#                    groups_overage; see deny_order)
#     public_route   allowed: a public route covers the request
#     group_grant    allowed: a group of the caller grants the request
#     not_public     denied: no token, and the route is not public
#     no_grant       denied: no grant of the caller covers the request
code := deny_code if {
	count(denials) > 0
} else := "public_route" if {
	some entry in matches
	entry.by == "public route"
} else := "group_grant" if {
	allow
} else := "not_public" if {
	not input.token
} else := "no_grant"
