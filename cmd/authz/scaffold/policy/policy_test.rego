package authz_test

import data.authz

rest(method, path) := {"kind": "rest", "method": method, "path": path}

token(sub, groups) := {"subject": sub, "groups": groups, "roles": [], "scopes": []}

grant(method, path) := {"method": method, "path": path}

test_anyone_reads_the_health_route if {
	d := authz.decision with input as {"request": rest("GET", "/health")}
	d.allow == true
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.reasons == {"public route grants GET /health"}
	d.code == "public_route"
}

test_no_token_elsewhere_is_denied if {
	d := authz.decision with input as {"request": rest("GET", "/orders/7")}
	d.allow == false
	d.reasons == {"no grant covers GET /orders/7"}
	d.code == "not_public"
}

test_a_reader_reads_orders_at_any_depth if {
	d := authz.decision with input as {"request": rest("GET", "/orders/7/items/1"), "token": token("alice", ["readers", "staff"])}
	d.allow == true
	d.principal_id == "alice"
	d.context == {"groups": {"readers"}}
	d.reasons == {"group readers grants GET /orders/*"}
	d.code == "group_grant"
}

test_a_reader_may_not_write_and_gets_the_same_grants if {
	alice := token("alice", ["readers"])
	read := authz.decision with input as {"request": rest("GET", "/orders"), "token": alice}
	write := authz.decision with input as {"request": rest("POST", "/orders"), "token": alice}
	read.allow == true
	write.allow == false
	write.reasons == {"no grant covers POST /orders"}
	write.code == "no_grant"

	# The grants are the caller's, not the request's: the cache stays correct.
	read.grants == write.grants
	read.grants == {grant("GET", "/health"), grant("GET", "/orders"), grant("GET", "/orders/*")}
}

test_a_writer_creates_orders if {
	d := authz.decision with input as {"request": rest("POST", "/orders"), "token": token("bob", ["readers", "writers"])}
	d.allow == true
	d.context == {"groups": {"readers", "writers"}}
}

test_the_routes_come_from_data if {
	d := authz.decision with input as {"request": rest("DELETE", "/orders/7"), "token": token("carol", ["admins"])}
		with data.access.groups as {"admins": [grant("*", "/orders/*")]}
	d.allow == true
	d.reasons == {"group admins grants * /orders/*"}
}

test_an_empty_input_is_a_decision if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.code == "not_public"
}
