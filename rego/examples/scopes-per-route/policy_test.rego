package authz_test

import data.authz

rest(method, path) := {"kind": "rest", "method": method, "path": path}

client(id, scopes) := {
	"issuer": "https://dev-123456.okta.com/oauth2/default",
	"profile": "okta",
	"subject": id,
	"client_id": id,
	"scopes": scopes,
	"groups": [],
	"roles": [],
}

grant(method, path) := {"method": method, "path": path}

test_read_scope_reads_orders if {
	tok := client("0oa-reporting", ["orders:read"])
	d := authz.decision with input as {"request": rest("GET", "/orders/42"), "token": tok}
	d.allow == true
	d.principal_id == "0oa-reporting"
	d.reasons == {"GET /orders/* requires scopes [orders:read], which the token has"}
	d.code == "scope_grant"
	d.context == {"client_id": "0oa-reporting", "scopes": {"orders:read"}}
	d.grants == {
		grant("GET", "/health"),
		grant("GET", "/me"),
		grant("GET", "/orders"),
		grant("GET", "/orders/*"),
	}
}

test_read_scope_may_not_write if {
	tok := client("0oa-reporting", ["orders:read"])
	d := authz.decision with input as {"request": rest("POST", "/orders"), "token": tok}
	d.allow == false
	d.reasons == {"POST /orders requires scopes [orders:write]; the token lacks [orders:write]"}
	d.code == "missing_scopes"
	not grant("POST", "/orders") in d.grants
}

test_delete_needs_every_scope_of_its_rule if {
	path := "/orders/42"
	writer := authz.decision with input as {"request": rest("DELETE", path), "token": client("c", ["orders:write"])}
	writer.allow == false
	writer.reasons == {"DELETE /orders/* requires scopes [orders:write orders:delete]; the token lacks [orders:delete]"}
	writer.code == "missing_scopes"

	deleter := authz.decision with input as {"request": rest("DELETE", path), "token": client("c", ["orders:write", "orders:delete"])}
	deleter.allow == true
	grant("DELETE", "/orders/*") in deleter.grants
	grant("PUT", "/orders/*") in deleter.grants
}

test_scopes_are_exact if {
	tok := client("c", ["orders:READ", "orders", "orders:read:all"])
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	d.allow == false
	d.grants == {grant("GET", "/health"), grant("GET", "/me")}
}

test_a_rule_without_scopes_needs_only_a_token if {
	allowed := authz.decision with input as {"request": rest("GET", "/me"), "token": client("c", [])}
	allowed.allow == true
	allowed.reasons == {"GET /me requires scopes [], which the token has"}
	allowed.code == "scope_grant"
	denied := authz.decision with input as {"request": rest("GET", "/me")}
	denied.allow == false
	denied.reasons == {"no token, and GET /me is not public"}
	denied.code == "not_public"
}

test_a_route_no_rule_covers_is_denied if {
	tok := client("c", ["orders:read", "orders:write", "orders:delete"])
	d := authz.decision with input as {"request": rest("PATCH", "/orders/1"), "token": tok}
	d.allow == false
	d.reasons == {"no route rule covers PATCH /orders/1: denied by default"}
	d.code == "no_route"
}

test_anonymous_health_check if {
	d := authz.decision with input as {"request": rest("GET", "/health")}
	d.allow == true
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.reasons == {"GET /health is public"}
	d.code == "public_route"
	d.context == {"client_id": "", "scopes": set()}
}

# The pitfall the policy's description warns of: IAM's '*' crosses '/', so the
# wider rule grants the route below it, and API Gateway would agree.
test_a_wildcard_rule_covers_stricter_routes_below_it if {
	routes := [
		{"method": "GET", "path": "/orders/*", "scopes": ["orders:read"]},
		{"method": "GET", "path": "/orders/*/audit", "scopes": ["audit:read"]},
	]
	d := authz.decision with input as {"request": rest("GET", "/orders/1/audit"), "token": client("c", ["orders:read"])}
		with data.scopes_per_route.routes as routes
	d.allow == true
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.reasons == set()
	d.code == "not_public"
}
