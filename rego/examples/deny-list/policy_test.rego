package authz_test

import data.authz

rest(method, path) := {"kind": "rest", "method": method, "path": path}

user(sub, claims) := object.union(
	{
		"issuer": "https://dev-123456.okta.com/oauth2/default",
		"subject": sub,
		"client_id": "0oa-orders-web",
		"tenant": "acme",
		"scopes": [],
		"groups": ["staff"],
		"roles": [],
		"groups_overage": false,
	},
	claims,
)

grant(method, path) := {"method": method, "path": path}

maintenance := "maintenance: planned database upgrade, back at 06:00 UTC"

test_staff_read_orders if {
	d := authz.decision with input as {"request": rest("GET", "/orders/1"), "token": user("alice", {})}
	d.allow == true
	d.principal_id == "alice"
	d.context == {"tenant": "acme"}
	d.reasons == {"group staff grants GET /orders/*"}
	d.code == "group_grant"
	d.grants == {grant("GET", "/health"), grant("GET", "/orders"), grant("GET", "/orders/*")}
}

test_staff_may_not_write if {
	d := authz.decision with input as {"request": rest("POST", "/orders"), "token": user("alice", {})}
	d.allow == false
	d.reasons == {"no grant of the caller covers POST /orders"}
	d.code == "no_grant"
	grant("GET", "/orders/*") in d.grants
}

test_a_blocked_subject_is_denied_even_as_admin if {
	tok := user("00u-mallory", {"groups": ["admins"]})
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	d.allow == false
	d.principal_id == "00u-mallory"
	d.reasons == {"subject 00u-mallory is blocked: account compromised, see SEC-1234"}
	d.code == "blocked_subject"

	# No grants: the cached answer refuses the caller's other requests too.
	d.grants == set()
}

test_a_blocked_client_is_denied if {
	tok := user("alice", {"client_id": "0oa-legacy-app"})
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	d.allow == false
	d.reasons == {"client 0oa-legacy-app is blocked: client retired on 2026-01-01, use orders-web"}
	d.code == "blocked_client"
	d.grants == set()
}

test_a_suspended_tenant_is_denied if {
	tok := user("bob", {"tenant": "initech"})
	d := authz.decision with input as {"request": rest("GET", "/health"), "token": tok}
	d.allow == false
	d.context == {"tenant": "initech"}
	d.reasons == {"tenant initech is suspended: contract suspended for non-payment"}
	d.code == "suspended_tenant"
}

test_a_blocked_group_is_denied if {
	tok := user("carl", {"groups": ["staff", "offboarded-contractors"]})
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	d.allow == false
	d.reasons == {"group offboarded-contractors is blocked: contract ended"}
	d.code == "blocked_group"
}

test_group_overage_is_denied_while_groups_are_blocked if {
	tok := user("dana", {"groups": [], "groups_overage": true})
	d := authz.decision with input as {"request": rest("GET", "/health"), "token": tok}
	d.allow == false
	d.reasons == {"the token's group list is incomplete (Entra groups overage): the blocked groups cannot be checked"}
	d.code == "groups_overage"

	# Without blocked groups, the overage costs nothing here.
	ok := authz.decision with input as {"request": rest("GET", "/health"), "token": tok}
		with data.deny_list.blocked_groups as {}
	ok.allow == true
	ok.code == "public_route"
}

test_every_deny_that_fired_is_a_reason if {
	tok := user("00u-mallory", {
		"client_id": "0oa-legacy-app",
		"tenant": "initech",
		"groups": ["admins", "offboarded-contractors"],
	})
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
		with data.deny_list.maintenance.enabled as true
	d.allow == false
	d.grants == set()
	d.reasons == {
		maintenance,
		"subject 00u-mallory is blocked: account compromised, see SEC-1234",
		"client 0oa-legacy-app is blocked: client retired on 2026-01-01, use orders-web",
		"tenant initech is suspended: contract suspended for non-payment",
		"group offboarded-contractors is blocked: contract ended",
	}

	# One code, by deny_order: the maintenance first, then the subject, ...
	d.code == "maintenance"
	without_maintenance := authz.decision with input as {"request": rest("GET", "/orders"), "token": tok}
	without_maintenance.code == "blocked_subject"
	group_and_tenant := authz.decision with input as {"request": rest("GET", "/orders"), "token": object.union(tok, {"subject": "x", "client_id": "y"})}
	group_and_tenant.code == "suspended_tenant"
}

test_a_deny_code_missing_from_the_order_still_is_the_code if {
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": user("00u-mallory", {})}
		with authz.deny_order as ["maintenance"]
	d.allow == false
	d.code == "blocked_subject"
}

test_maintenance_denies_everyone if {
	admin := authz.decision with input as {"request": rest("GET", "/orders"), "token": user("root", {"groups": ["admins"]})}
		with data.deny_list.maintenance.enabled as true
	admin.allow == false
	admin.reasons == {maintenance}
	admin.code == "maintenance"
	admin.grants == set()
	anonymous := authz.decision with input as {"request": rest("GET", "/health")}
		with data.deny_list.maintenance.enabled as true
	anonymous.allow == false
	anonymous.reasons == {maintenance}
	anonymous.code == "maintenance"
}

test_anonymous if {
	health := authz.decision with input as {"request": rest("GET", "/health")}
	health.allow == true
	health.principal_id == "anonymous"
	health.reasons == {"public route grants GET /health"}
	health.code == "public_route"
	health.context == {"tenant": ""}
	orders := authz.decision with input as {"request": rest("GET", "/orders")}
	orders.allow == false
	orders.reasons == {"no token, and GET /orders is not a public route"}
	orders.code == "not_public"
	orders.grants == {grant("GET", "/health")}
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.reasons == set()
	d.code == "not_public"
}
