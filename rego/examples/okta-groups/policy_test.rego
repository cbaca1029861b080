package authz_test

import data.authz

rest(method, path) := {"kind": "rest", "method": method, "path": path}

okta(sub, groups) := {
	"issuer": "https://dev-123456.okta.com/oauth2/default",
	"profile": "okta",
	"subject": sub,
	"email": sprintf("%s@example.com", [sub]),
	"scopes": [],
	"groups": groups,
	"roles": [],
}

grant(method, path) := {"method": method, "path": path}

test_anonymous_health_check_is_allowed if {
	d := authz.decision with input as {"request": rest("GET", "/health")}
	d.allow == true
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.reasons == {"public route grants GET /health"}
	d.code == "public_route"
	d.context == {"email": "", "groups": set()}
}

test_anonymous_request_elsewhere_is_denied if {
	d := authz.decision with input as {"request": rest("GET", "/orders")}
	d.allow == false
	d.grants == {grant("GET", "/health")}
	d.reasons == {"no token, and GET /orders is not a public route"}
	d.code == "not_public"
}

test_reader_reads_orders_at_any_depth if {
	tok := okta("00u1", ["Everyone", "orders-readers"])
	d := authz.decision with input as {"request": rest("GET", "/orders/42/items/7"), "token": tok}
	d.allow == true
	d.principal_id == "00u1"
	d.reasons == {"group orders-readers grants GET /orders/*"}
	d.code == "group_grant"
	d.context == {"email": "00u1@example.com", "groups": {"Everyone", "orders-readers"}}
}

test_reader_may_not_write_and_gets_the_same_grants if {
	tok := okta("00u1", ["Everyone", "orders-readers"])
	read := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	write := authz.decision with input as {"request": rest("POST", "/orders"), "token": tok}
	read.allow == true
	write.allow == false
	write.reasons == {"no grant of the groups [Everyone, orders-readers] covers POST /orders"}
	write.code == "no_grant"

	# The grants are the caller's, not the request's: the cache stays correct.
	read.grants == write.grants
	read.grants == {
		grant("GET", "/health"),
		grant("GET", "/profile"),
		grant("GET", "/orders"),
		grant("GET", "/orders/*"),
	}
}

test_groups_accumulate if {
	tok := okta("00u2", ["orders-readers", "orders-writers"])
	d := authz.decision with input as {"request": rest("PATCH", "/orders/9"), "token": tok}
	d.allow == true
	grant("GET", "/orders/*") in d.grants
	grant("PATCH", "/orders/*") in d.grants
}

test_admin_method_star if {
	tok := okta("00u3", ["orders-admins"])
	del := authz.decision with input as {"request": rest("DELETE", "/orders/9"), "token": tok}
	del.allow == true
	del.reasons == {"group orders-admins grants * /orders/*"}
	other := authz.decision with input as {"request": rest("DELETE", "/users/9"), "token": tok}
	other.allow == false
	other.code == "no_grant"
}

test_group_names_are_exact if {
	tok := okta("00u4", ["Orders-Readers", "orders-readers-old", "orders"])
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	d.allow == false
	d.grants == {grant("GET", "/health")}
	d.context.groups == set()
	d.reasons == {"no grant of the groups [] covers GET /orders"}
}

test_token_without_groups_still_reaches_public_routes if {
	tok := okta("00u5", [])
	d := authz.decision with input as {"request": rest("GET", "/health"), "token": tok}
	d.allow == true
	d.principal_id == "00u5"
	d.code == "public_route"
}

test_empty_subject_is_anonymous if {
	d := authz.decision with input as {"request": rest("GET", "/health"), "token": okta("", [])}
	d.principal_id == "anonymous"
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.context == {"email": "", "groups": set()}
	d.reasons == set()
	d.code == "not_public"
}
