# METADATA
# title: Office hours and office networks
# schemas:
#   - input: schema.input
# description: |
#   Members of the group "payroll" may use /payroll only in office hours
#   (weekdays 08:00 to 18:00 UTC, from input.request.time_ms) and only from an
#   office network (input.request.source_ip inside a CIDR of
#   data.time_and_ip.networks). /profile is for any signed-in caller, at any
#   time, from anywhere; /health is public. REST TOKEN authorizer events carry
#   neither the time nor the source IP: /payroll is then always refused.
#
#   CACHING MUST BE OFF (authorizer TTL 0) for an API that uses this policy.
#   API Gateway caches an authorizer's answer by its identity sources (the
#   Authorization header, usually) and reuses it for the TTL, 300 s by
#   default. The request time and the source IP are not identity sources: an
#   answer given at 17:59 from the office would be reused at 18:04 from a
#   café. The source IP can be made part of the cache key (add
#   context.identity.sourceIp to the identity sources), the time cannot.
#
#   The grants therefore list only what depends on the identity alone
#   (/health, /profile): an allowed /payroll request is allowed by its own ARN,
#   which the authorizer adds to an Allow when no grant covers it, and never
#   by a grant that a cached policy could stretch to other requests. Every
#   decision that looked at the time and the IP says so in its reasons.
package authz

import data.lib.iam

# METADATA
# description: The decision document the authorizer reads (AUTHZ_QUERY).
decision := {
	"allow": allow,
	"principal_id": principal_id,
	"grants": grants,
	"context": {"office_hours": in_office_hours, "networks": networks},
	"reasons": reasons,
	"code": code,
}

default allow := false

# METADATA
# description: A grant, which depends on the identity alone, covers the request.
allow if some _ in matches

# METADATA
# description: An office-only route of the caller's groups, in office hours, from an office network.
allow if {
	some _ in office_matches
	in_office_hours
	from_an_office_network
}

# METADATA
# description: The caller's grants, which hold at any time from anywhere.
granted contains {"grant": grant, "by": "public route"} if {
	some grant in data.time_and_ip.public
}

granted contains {"grant": grant, "by": "any signed-in user"} if {
	input.token
	some grant in data.time_and_ip.signed_in
}

grants contains entry.grant if {
	some entry in granted
}

matches contains entry if {
	some entry in granted
	iam.covers(entry.grant, input.request)
}

# METADATA
# description: |
#   The caller's office-only routes that cover this request. They are never
#   grants: whether they apply depends on the time and the source IP.
office_matches contains {"route": route, "group": group} if {
	some group in input.token.groups
	some route in data.time_and_ip.office_only[group]
	iam.covers(route, input.request)
}

# METADATA
# description: The request time in nanoseconds, when the event carries one.
request_ns := input.request.time_ms * 1000000 if {
	is_number(input.request.time_ms)
	input.request.time_ms > 0
}

default in_office_hours := false

# METADATA
# description: The request was made on an office day, between the office hours, in UTC.
in_office_hours if {
	hours := data.time_and_ip.office_hours
	time.weekday(request_ns) in hours.days
	[hour, _, _] := time.clock(request_ns)
	hours.from_hour <= hour
	hour < hours.to_hour
}

# METADATA
# description: |
#   The source IP is an address. net.cidr_contains fails on anything else, and
#   a failing built-in fails the whole decision (strict built-in errors).
source_ip_is_an_address if {
	is_string(input.request.source_ip)
	net.cidr_is_valid(concat("", [input.request.source_ip, "/32"]))
}

# METADATA
# description: The office networks the source IP is in.
networks contains name if {
	source_ip_is_an_address
	some name, cidr in data.time_and_ip.networks
	net.cidr_contains(cidr, input.request.source_ip)
}

from_an_office_network if count(networks) > 0

default principal_id := "anonymous"

principal_id := input.token.subject if input.token.subject != ""

request_line := sprintf("%s %s", [input.request.method, input.request.path])

office_hours_text := sprintf("%s %02d:00 to %02d:00 UTC", [
	concat(", ", data.time_and_ip.office_hours.days),
	data.time_and_ip.office_hours.from_hour,
	data.time_and_ip.office_hours.to_hour,
])

reasons contains sprintf("%s grants %s %s", [entry.by, entry.grant.method, entry.grant.path]) if {
	some entry in matches
}

reasons contains "this decision depends on the request time and source IP, which are not identity sources: the authorizer's cache must be off (TTL 0)" if {
	some _ in office_matches
}

reasons contains sprintf("group %s may call %s %s in office hours from an office network (%s)", [m.group, m.route.method, m.route.path, concat(", ", sort(networks))]) if {
	allow
	some m in office_matches
}

reasons contains sprintf("%s is for office hours only (%s); the request was made %s UTC", [request_line, office_hours_text, time.format([request_ns, "UTC", "Monday 15:04"])]) if {
	some _ in office_matches
	not in_office_hours
}

reasons contains sprintf("%s is for office hours only, and the request time is unknown", [request_line]) if {
	some _ in office_matches
	not request_ns
}

reasons contains sprintf("%s is for office networks only; the source IP %s is in none", [request_line, input.request.source_ip]) if {
	some _ in office_matches
	source_ip_is_an_address
	not from_an_office_network
}

reasons contains sprintf("%s is for office networks only, and the source IP %q is not an address", [request_line, input.request.source_ip]) if {
	some _ in office_matches
	not source_ip_is_an_address
}

reasons contains sprintf("no token, and %s is not a public route", [request_line]) if {
	not allow
	not input.token
}

reasons contains sprintf("no grant of the caller covers %s", [request_line]) if {
	input.token
	count(matches) == 0
	count(office_matches) == 0
}

# METADATA
# description: |
#   Why, in one word for the decision log and metrics; the first that applies:
#     public_route            allowed: a public route covers the request
#     signed_in               allowed: granted to any signed-in user
#     office_route            allowed: an office-only route of the caller's groups, in office hours, from an office network
#     not_public              denied: no token, and the route is not public
#     outside_office_hours    denied: an office-only route outside office hours, or at an unknown time
#     outside_office_network  denied: an office-only route from elsewhere, or from no known address
#     no_grant                denied: nothing the caller has covers the request
code := "public_route" if {
	some entry in matches
	entry.by == "public route"
} else := "signed_in" if {
	some _ in matches
} else := "office_route" if {
	allow
} else := "not_public" if {
	not input.token
} else := "outside_office_hours" if {
	some _ in office_matches
	not in_office_hours
} else := "outside_office_network" if {
	some _ in office_matches
} else := "no_grant"
