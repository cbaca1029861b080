# METADATA
# title: Resource ownership from a path parameter
# schemas:
#   - input: schema.input
# description: |
#   Users may read and change their own record, /users/{id} and everything
#   under /users/{id}/, and nobody else's: the {id} in the path must be the
#   caller's subject (input.token.subject). Support staff (app role
#   "Support") may read every user.
#
#   The check reads input.request.path, the path API Gateway enforces the IAM
#   policy on, and, when the route has an {id} parameter, also
#   input.request.path_params.id, the value the backend will read.
#
#   A decision that depends on the path is only cache-safe if the grants say
#   the same thing: they name the caller's own paths (/users/alice,
#   /users/alice/*), never /users/*, so the IAM policy API Gateway caches for
#   alice's token does not let her reach /users/bob. The subject is put into
#   a path pattern, where '*' and '?' are wildcards and '/' separates
#   segments: a subject with any character outside [A-Za-z0-9._@-] gets no
#   owner grant at all.
package authz

import data.lib.iam

# The caller's own routes; {sub} is replaced by the caller's subject.
owner_templates := [
	{"method": "GET", "path": "/users/{sub}"},
	{"method": "PUT", "path": "/users/{sub}"},
	{"method": "PATCH", "path": "/users/{sub}"},
	{"method": "*", "path": "/users/{sub}/*"},
]

# Routes of app roles, the same for every holder of the role.
role_grants := {"Support": [
	{"method": "GET", "path": "/users/*"},
]}

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"user": principal_id},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A role grant covers the request.
allow if {
	some entry in matches
	not entry.owner
}

# METADATA
# description: An owner grant covers the request, and the request is on the caller's own record.
allow if {
	some entry in matches
	entry.owner
	owns_requested_user
}

# METADATA
# description: The subject can name a path segment (no wildcard, no '/', not a dot segment).
subject_is_path_safe if regex.match(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`, input.token.subject)

# METADATA
# description: Every grant of the caller and where it comes from.
granted contains {"grant": grant, "owner": true} if {
	subject_is_path_safe
	some template in owner_templates
	grant := {"method": template.method, "path": replace(template.path, "{sub}", input.token.subject)}
}

granted contains {"grant": grant, "owner": false, "role": role} if {
	some role in input.token.roles
	some grant in role_grants[role]
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
# description: The user a /users/{id}/... path names.
path_user := parts[2] if {
	parts := split(input.request.path, "/")
	parts[1] == "users"
}

# METADATA
# description: The path names the caller, and so does the id parameter when the route has one.
owns_requested_user if {
	path_user == input.token.subject
	not id_parameter_names_someone_else
}

id_parameter_names_someone_else if input.request.path_params.id != input.token.subject

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

request_line := sprintf("%s %s", [input.request.method, input.request.path])

reasons contains sprintf("%s owns %s", [input.token.subject, request_line]) if {
	some entry in matches
	entry.owner
	owns_requested_user
}

reasons contains sprintf("role %s grants %s %s", [entry.role, entry.grant.method, entry.grant.path]) if {
	some entry in matches
	not entry.owner
}

reasons contains sprintf("%s is user %q's, not the caller's (%q)", [request_line, path_user, input.token.subject]) if {
	not allow
	path_user != input.token.subject
}

reasons contains sprintf("the path parameter id %q is not the caller (%q)", [input.request.path_params.id, input.token.subject]) if {
	not allow
	id_parameter_names_someone_else
}

reasons contains sprintf("the subject %q cannot be put in a path pattern: no owner grant", [input.token.subject]) if {
	not subject_is_path_safe
}

reasons contains sprintf("no token: %s needs a signed-in caller", [request_line]) if {
	not input.token
}

reasons contains sprintf("no grant covers %s", [request_line]) if {
	input.token
	count(matches) == 0
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics; the first that applies:
#     owner       allowed: the caller's own record
#     role_grant  allowed: an app role of the caller grants the request
#     not_public  denied: no token (nothing here is public)
#     not_owner   denied: the path or its id parameter names another user
#     no_grant    denied: nothing the caller has covers the request
code := "owner" if {
	some entry in matches
	entry.owner
	owns_requested_user
} else := "role_grant" if {
	allow
} else := "not_public" if {
	not input.token
} else := "not_owner" if {
	path_user
	not owns_requested_user
} else := "no_grant"
