package authz_test

import data.authz

rest(method, path) := {"kind": "rest", "method": method, "path": path}

user(sub, claims) := object.union(
	{"subject": sub, "tenant": "", "groups": [], "roles": [], "scopes": []},
	claims,
)

grant(method, path) := {"method": method, "path": path}

test_anonymous_health_check_is_allowed if {
	d := authz.decision with input as {"request": rest("GET", "/health")}
	d.allow
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.reasons == {"GET /health is public"}
	d.code == "public_route"
	d.context == {"tenant": "", "roles": set()}
}

test_anonymous_elsewhere_is_denied if {
	d := authz.decision with input as {"request": rest("GET", "/orders")}
	not d.allow
	d.grants == {grant("GET", "/health")}
	d.reasons == {"no token, and GET /orders is not public"}
	d.code == "not_public"
}

test_public_route_needs_its_method if {
	d := authz.decision with input as {"request": rest("POST", "/health")}
	not d.allow
	d.code == "not_public"
}

test_admin_group_may_do_anything if {
	tok := user("00u1", {"groups": ["admins"], "tenant": "acme"})
	d := authz.decision with input as {"request": rest("DELETE", "/orders/42"), "token": tok}
	d.allow
	d.principal_id == "00u1"
	d.context == {"tenant": "acme", "roles": {"admin"}}
	d.reasons == {"role admin grants * *"}
	d.code == "role_grant"
	grant("*", "*") in d.grants
}

test_reader_scope_reads_orders_and_nothing_more if {
	tok := user("svc", {"scopes": ["orders:read"]})
	read := authz.decision with input as {"request": rest("GET", "/orders/42"), "token": tok}
	read.allow
	read.reasons == {"role reader grants GET /orders/*"}
	read.code == "role_grant"

	del := authz.decision with input as {"request": rest("DELETE", "/orders/42"), "token": tok}
	not del.allow
	del.reasons == {"no grant of the roles [reader] covers DELETE /orders/42"}
	del.code == "no_grant"

	# The grants do not depend on the request: the same for both.
	read.grants == del.grants
	grant("GET", "/orders/*") in del.grants
	grant("GET", "/health") in del.grants
}

test_writer_from_app_roles if {
	tok := user("app", {"roles": ["Orders.Write"]})
	d := authz.decision with input as {"request": rest("POST", "/orders"), "token": tok}
	d.allow
	d.context.roles == {"writer"}
}

test_roles_accumulate if {
	tok := user("u", {"groups": ["orders-readers"], "scopes": ["orders:write"]})
	d := authz.decision with input as {"request": rest("PUT", "/orders/1"), "token": tok}
	d.allow
	d.context.roles == {"reader", "writer"}
}

test_unknown_groups_grant_nothing if {
	tok := user("u", {"groups": ["Domain Admins", "admins-but-not-really"]})
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	not d.allow
	d.context.roles == set()
	d.grants == {grant("GET", "/health")}
	d.reasons == {"no grant of the roles [] covers GET /orders"}
	d.code == "no_grant"
}

test_group_overage_is_explained if {
	tok := user("u", {"groups": [], "roles": ["Orders.Read"], "groups_overage": true})
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	d.allow
	"the token's group list is incomplete (overage): no role is bound from groups" in d.reasons
	d.code == "role_grant"
}

test_group_overage_is_the_code_when_a_group_could_have_granted if {
	tok := user("u", {"groups": [], "roles": ["Orders.Read"], "groups_overage": true})
	d := authz.decision with input as {"request": rest("DELETE", "/orders/1"), "token": tok}
	not d.allow
	d.code == "groups_overage"
	d.reasons == {
		"the token's group list is incomplete (overage): no role is bound from groups",
		"no grant of the roles [reader] covers DELETE /orders/1",
	}
}

test_group_overage_is_not_the_code_when_no_group_could_have_granted if {
	# Without the admins group, no group binds a role that may delete.
	tok := user("u", {"groups": [], "roles": ["Orders.Read"], "groups_overage": true})
	d := authz.decision with input as {"request": rest("DELETE", "/orders/1"), "token": tok}
		with data.rbac.bindings.groups as {"orders-readers": ["reader"], "orders-writers": ["writer"]}
	not d.allow
	d.code == "no_grant"
}

test_a_public_route_is_the_code_even_for_a_role_that_covers_it if {
	tok := user("a", {"groups": ["admins"]})
	d := authz.decision with input as {"request": rest("GET", "/health"), "token": tok}
	d.allow
	d.code == "public_route"
	d.reasons == {"GET /health is public", "role admin grants * *"}
}

test_empty_subject_is_anonymous if {
	d := authz.decision with input as {"request": rest("GET", "/health"), "token": user("", {})}
	d.principal_id == "anonymous"
}

test_websocket_connect if {
	ws := {"kind": "websocket", "method": "", "path": "$connect"}
	allowed := authz.decision with input as {"request": ws, "token": user("u", {"groups": ["orders-readers"]})}
	allowed.allow
	allowed.code == "role_grant"
	denied := authz.decision with input as {"request": ws}
	not denied.allow
	denied.code == "not_public"
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.code == "not_public"
}
