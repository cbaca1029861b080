package authz_test

import data.authz

contoso := "72f988bf-86f1-41af-91ab-2d7cd011db47"

fabrikam := "0d5e8a3c-1111-4222-8333-944455556666"

finance := "5b0f1e2a-7c3d-4e5f-8a9b-0c1d2e3f4a5b"

rest(method, path) := {"kind": "rest", "method": method, "path": path}

entra(oid, tenant, claims) := object.union(
	{
		"issuer": sprintf("https://login.microsoftonline.com/%s/v2.0", [tenant]),
		"profile": "entra",
		"subject": oid,
		"tenant": tenant,
		"scopes": [],
		"groups": [],
		"roles": [],
		"groups_overage": false,
	},
	claims,
)

grant(method, path) := {"method": method, "path": path}

orders(tenant) := sprintf("/tenants/%s/orders", [tenant])

test_reader_reads_the_orders_of_their_tenant if {
	tok := entra("oid-1", contoso, {"roles": ["Orders.Read"]})
	d := authz.decision with input as {"request": rest("GET", concat("", [orders(contoso), "/42"])), "token": tok}
	d.allow == true
	d.principal_id == "oid-1"
	d.context == {"tenant": contoso, "roles": {"Orders.Read"}}
	d.reasons == {sprintf("app role Orders.Read grants GET /tenants/%s/orders/*", [contoso])}
	d.code == "role_grant"
	d.grants == {
		grant("GET", "/me"),
		grant("GET", orders(contoso)),
		grant("GET", concat("", [orders(contoso), "/*"])),
	}
}

test_no_grant_names_another_tenant if {
	tok := entra("oid-1", contoso, {"roles": ["Orders.Read", "Orders.Write", "Tenant.Admin"]})
	d := authz.decision with input as {"request": rest("GET", "/me"), "token": tok}
	d.allow == true
	every g in d.grants {
		not contains(g.path, fabrikam)
		not contains(g.path, "{tenant}")
	}
	grant("*", sprintf("/tenants/%s/*", [contoso])) in d.grants
}

test_another_tenant_is_refused if {
	tok := entra("oid-1", contoso, {"roles": ["Tenant.Admin"]})
	d := authz.decision with input as {"request": rest("GET", orders(fabrikam)), "token": tok}
	d.allow == false
	d.code == "cross_tenant"
	d.reasons == {
		sprintf("tenant isolation: the path names tenant %q, the caller's tenant is %q", [fabrikam, contoso]),
		sprintf("no grant of the app roles [Tenant.Admin] covers GET %s", [orders(fabrikam)]),
	}
}

test_tenant_admin_does_anything_in_the_tenant if {
	tok := entra("oid-2", fabrikam, {"roles": ["Tenant.Admin"]})
	d := authz.decision with input as {"request": rest("DELETE", concat("", [orders(fabrikam), "/7"])), "token": tok}
	d.allow == true
	d.code == "role_grant"
	d.reasons == {sprintf("app role Tenant.Admin grants * /tenants/%s/*", [fabrikam])}
}

test_reader_may_not_write if {
	tok := entra("oid-1", contoso, {"roles": ["Orders.Read", "Some.Other.Role"]})
	d := authz.decision with input as {"request": rest("POST", orders(contoso)), "token": tok}
	d.allow == false
	d.context.roles == {"Orders.Read"}
	d.reasons == {sprintf("no grant of the app roles [Orders.Read] covers POST %s", [orders(contoso)])}
	d.code == "no_grant"
}

test_a_tenant_that_is_not_an_id_gets_no_tenant_route if {
	# A "*" substituted into /tenants/{tenant}/* would grant every tenant.
	tok := entra("oid-3", "*", {"roles": ["Tenant.Admin"]})
	d := authz.decision with input as {"request": rest("GET", orders(contoso)), "token": tok}
	d.allow == false
	d.grants == {grant("GET", "/me")}
	"the token's tenant \"*\" is not a tenant id: no tenant route is granted" in d.reasons
}

test_any_signed_in_user_reads_me if {
	d := authz.decision with input as {"request": rest("GET", "/me"), "token": entra("oid-4", contoso, {})}
	d.allow == true
	d.reasons == {"any signed-in user grants GET /me"}
	d.code == "signed_in"
}

test_finance_group_reads_invoices if {
	tok := entra("oid-5", contoso, {"groups": [finance, "00000000-0000-0000-0000-000000000000"]})
	d := authz.decision with input as {"request": rest("GET", sprintf("/tenants/%s/invoices/2026-01", [contoso])), "token": tok}
	d.allow == true
	d.reasons == {sprintf("group Finance grants GET /tenants/%s/invoices/*", [contoso])}
	d.code == "group_grant"
}

test_overage_denies_what_only_a_group_grants if {
	path := sprintf("/tenants/%s/invoices/2026-01", [contoso])
	tok := entra("oid-5", contoso, {"groups": [], "groups_overage": true, "roles": ["Orders.Read"]})
	d := authz.decision with input as {"request": rest("GET", path), "token": tok}
	d.allow == false
	d.code == "groups_overage"
	d.reasons == {
		"the token's group list is incomplete (Entra groups overage): no group rule is applied",
		sprintf("GET %s is granted to group Finance, which this token cannot show (overage): assign an app role instead", [path]),
		sprintf("no grant of the app roles [Orders.Read] covers GET %s", [path]),
	}
	every g in d.grants {
		not contains(g.path, "invoices")
	}
}

test_overage_applies_no_group_rule_even_with_groups_listed if {
	tok := entra("oid-5", contoso, {"groups": [finance], "groups_overage": true})
	d := authz.decision with input as {"request": rest("GET", sprintf("/tenants/%s/invoices", [contoso])), "token": tok}
	d.allow == false
	d.code == "groups_overage"
	d.grants == {grant("GET", "/me")}
}

test_overage_leaves_app_roles_working if {
	tok := entra("oid-5", contoso, {"groups_overage": true, "roles": ["Orders.Read"]})
	d := authz.decision with input as {"request": rest("GET", orders(contoso)), "token": tok}
	d.allow == true
	d.code == "role_grant"
	d.reasons == {
		"the token's group list is incomplete (Entra groups overage): no group rule is applied",
		sprintf("app role Orders.Read grants GET %s", [orders(contoso)]),
	}
}

test_anonymous_is_denied_with_no_grants if {
	d := authz.decision with input as {"request": rest("GET", "/me")}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == set()
	d.reasons == {"no token: GET /me needs a signed-in caller"}
	d.code == "not_public"
	d.context == {"tenant": "", "roles": set()}
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == set()
	d.reasons == set()
	d.code == "not_public"
}

test_a_grant_that_reaches_other_tenants_is_left_out if {
	roles := {"Sloppy": [
		{"method": "GET", "path": "/tenants/*"},
		{"method": "GET", "path": "*"},
		{"method": "GET", "path": "/t*"},
		{"method": "GET", "path": sprintf("/tenants/%s*", [contoso])},
		{"method": "GET", "path": sprintf("/tenants/%s/x", [fabrikam])},
		{"method": "GET", "path": "/tenants"},
		{"method": "GET", "path": "/reports/*"},
		{"method": "GET", "path": sprintf("/tenants/%s", [contoso])},
	]}
	tok := entra("oid-6", contoso, {"roles": ["Sloppy"]})
	d := authz.decision with input as {"request": rest("GET", orders(fabrikam)), "token": tok}
		with data.entra_app_roles.roles as roles
	d.allow == false
	d.grants == {
		grant("GET", "/me"),
		grant("GET", "/tenants"),
		grant("GET", "/reports/*"),
		grant("GET", sprintf("/tenants/%s", [contoso])),
	}
	"app role Sloppy would grant GET /tenants/*, which reaches beyond the caller's tenant: left out" in d.reasons
	"app role Sloppy would grant GET *, which reaches beyond the caller's tenant: left out" in d.reasons
}

confined_anything(_) := true

# The path check holds on its own, even if a grant slipped through.
test_the_path_tenant_is_checked_even_when_a_grant_covers_it if {
	roles := {"Sloppy": [{"method": "GET", "path": "/tenants/*"}]}
	tok := entra("oid-6", contoso, {"roles": ["Sloppy"]})
	d := authz.decision with input as {"request": rest("GET", orders(fabrikam)), "token": tok}
		with data.entra_app_roles.roles as roles
		with authz.confined as confined_anything
	d.allow == false
	d.code == "cross_tenant"
	sprintf("tenant isolation: the path names tenant %q, the caller's tenant is %q", [fabrikam, contoso]) in d.reasons
}

test_an_app_role_is_the_code_over_a_group_and_any_signed_in_user if {
	both := {"method": "GET", "path": "/me"}
	tok := entra("oid-7", contoso, {"roles": ["Profile.Read"], "groups": [finance]})
	d := authz.decision with input as {"request": rest("GET", "/me"), "token": tok}
		with data.entra_app_roles.roles as {"Profile.Read": [both]}
		with data.entra_app_roles.groups as {finance: {"name": "Finance", "grants": [both]}}
	d.allow == true
	d.code == "role_grant"
	d.reasons == {"app role Profile.Read grants GET /me", "group Finance grants GET /me", "any signed-in user grants GET /me"}
	g := authz.decision with input as {"request": rest("GET", "/me"), "token": entra("oid-7", contoso, {"groups": [finance]})}
		with data.entra_app_roles.groups as {finance: {"name": "Finance", "grants": [both]}}
	g.code == "group_grant"
}
