# METADATA
# title: AD FS groups to routes
# schemas:
#   - input: schema.input
# description: |
#   AD FS issues Active Directory groups in the "group" claim, named the way
#   the claim rule emits them: "Domain Users", "CONTOSO\Document Editors", or
#   a distinguished name such as "CN=Admins,OU=Groups,DC=contoso,DC=com". The
#   authorizer turns the claim into input.token.groups, one value per group,
#   and never splits a value on spaces or commas; this policy does not either:
#   a group is matched whole, so "CN=Admins" alone, or "Domain" from "Domain
#   Users", grants nothing. Active Directory compares names without regard to
#   case, so this policy does too.
#
#   data.adfs_groups.groups maps group names to method and path patterns;
#   data.adfs_groups.public lists routes that need no token. The decision
#   lists every grant of the caller so that API Gateway's authorizer cache
#   stays correct.
#
#   The backend receives the caller's groups as one JSON array in a string:
#   a comma-joined list (what the authorizer makes of an array for REST,
#   WebSocket and HTTP payload 1.0 contexts) could not be split back, because
#   the names contain commas.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"groups": json.marshal(sort(known_groups))},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A request is allowed when one of the caller's grants covers it.
allow if some _ in matches

# METADATA
# description: |
#   The groups of data.adfs_groups the caller is in, spelt as in the data.
#   Whole names, compared without regard to case.
known_groups contains name if {
	some name, _ in data.adfs_groups.groups
	some group in input.token.groups
	lower(group) == lower(name)
}

# METADATA
# description: Every grant of the caller and where it comes from.
granted contains {"grant": grant, "by": "public route"} if {
	some grant in data.adfs_groups.public
}

granted contains {"grant": grant, "by": sprintf("group %s", [name])} if {
	some name in known_groups
	some grant in data.adfs_groups.groups[name]
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

request_line := sprintf("%s %s", [input.request.method, input.request.path])

reasons contains sprintf("%s grants %s %s", [entry.by, entry.grant.method, entry.grant.path]) if {
	some entry in matches
}

reasons contains sprintf("no token, and %s is not a public route", [request_line]) if {
	not allow
	not input.token
}

reasons contains sprintf("no grant of the groups %s covers %s", [json.marshal(sort(known_groups)), request_line]) if {
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
