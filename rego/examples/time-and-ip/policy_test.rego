package authz_test

import data.authz

# Wednesday 2026-01-07 at 10:00, 07:59:59, 08:00 and 18:00 UTC; Saturday 2026-01-10 at 10:00 UTC.
wednesday_10 := 1767780000000

wednesday_0759 := 1767772799000

wednesday_08 := 1767772800000

wednesday_18 := 1767808800000

saturday_10 := 1768039200000

office_ip := "203.0.113.9"

cafe_ip := "192.0.2.77"

caching := "this decision depends on the request time and source IP, which are not identity sources: the authorizer's cache must be off (TTL 0)"

req(method, path, time_ms, ip) := {"kind": "rest", "method": method, "path": path, "time_ms": time_ms, "source_ip": ip}

clerk := {"subject": "u-clerk", "scopes": [], "groups": ["payroll"], "roles": []}

grant(method, path) := {"method": method, "path": path}

test_payroll_in_office_hours_from_the_office if {
	d := authz.decision with input as {"request": req("GET", "/payroll/2026-01", wednesday_10, office_ip), "token": clerk}
	d.allow == true
	d.principal_id == "u-clerk"
	d.code == "office_route"
	d.context == {"office_hours": true, "networks": {"paris office"}}
	d.reasons == {
		caching,
		"group payroll may call GET /payroll/* in office hours from an office network (paris office)",
	}

	# Nothing that depends on the time or the IP is a grant.
	d.grants == {grant("GET", "/health"), grant("GET", "/profile")}
}

test_payroll_on_a_saturday_is_refused if {
	d := authz.decision with input as {"request": req("POST", "/payroll/runs", saturday_10, office_ip), "token": clerk}
	d.allow == false
	d.context.office_hours == false
	d.code == "outside_office_hours"
	d.reasons == {
		caching,
		"POST /payroll/runs is for office hours only (Monday, Tuesday, Wednesday, Thursday, Friday 08:00 to 18:00 UTC); the request was made Saturday 10:00 UTC",
	}
}

test_office_hours_are_from_eight_until_before_eighteen if {
	early := authz.decision with input as {"request": req("GET", "/payroll", wednesday_0759, office_ip), "token": clerk}
	early.allow == false
	early.code == "outside_office_hours"
	start := authz.decision with input as {"request": req("GET", "/payroll", wednesday_08, office_ip), "token": clerk}
	start.allow == true
	late := authz.decision with input as {"request": req("GET", "/payroll", wednesday_18, office_ip), "token": clerk}
	late.allow == false
}

test_payroll_from_outside_is_refused if {
	d := authz.decision with input as {"request": req("GET", "/payroll", wednesday_10, cafe_ip), "token": clerk}
	d.allow == false
	d.context == {"office_hours": true, "networks": set()}
	d.reasons == {caching, "GET /payroll is for office networks only; the source IP 192.0.2.77 is in none"}
	d.code == "outside_office_network"
}

test_ipv6_vpn_is_an_office_network if {
	d := authz.decision with input as {"request": req("GET", "/payroll", wednesday_10, "2001:db8:10::42"), "token": clerk}
	d.allow == true
	d.context.networks == {"vpn (IPv6)"}
}

test_every_failed_condition_is_a_reason if {
	d := authz.decision with input as {"request": req("GET", "/payroll", 0, ""), "token": clerk}
	d.allow == false
	d.context == {"office_hours": false, "networks": set()}
	d.code == "outside_office_hours"
	d.reasons == {
		caching,
		"GET /payroll is for office hours only, and the request time is unknown",
		`GET /payroll is for office networks only, and the source IP "" is not an address`,
	}
}

test_a_malformed_source_ip_is_no_error if {
	d := authz.decision with input as {"request": req("GET", "/payroll", wednesday_10, "203.0.113.9/8"), "token": clerk}
	d.allow == false
	d.code == "outside_office_network"
}

test_office_routes_need_the_group if {
	tok := object.union(clerk, {"groups": ["sales"]})
	d := authz.decision with input as {"request": req("GET", "/payroll", wednesday_10, office_ip), "token": tok}
	d.allow == false
	d.reasons == {"no grant of the caller covers GET /payroll"}
	d.code == "no_grant"
}

test_profile_at_any_time_from_anywhere if {
	d := authz.decision with input as {"request": req("GET", "/profile", saturday_10, cafe_ip), "token": clerk}
	d.allow == true
	d.reasons == {"any signed-in user grants GET /profile"}
	d.code == "signed_in"
}

test_anonymous if {
	health := authz.decision with input as {"request": req("GET", "/health", saturday_10, cafe_ip)}
	health.allow == true
	health.principal_id == "anonymous"
	health.grants == {grant("GET", "/health")}
	health.reasons == {"public route grants GET /health"}
	health.code == "public_route"
	payroll := authz.decision with input as {"request": req("GET", "/payroll", wednesday_10, office_ip)}
	payroll.allow == false
	payroll.reasons == {"no token, and GET /payroll is not a public route"}
	payroll.code == "not_public"
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.context == {"office_hours": false, "networks": set()}
	d.reasons == set()
	d.code == "not_public"
}
