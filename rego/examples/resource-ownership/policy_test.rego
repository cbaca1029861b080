package authz_test

import data.authz

rest(method, path) := {"kind": "rest", "method": method, "path": path, "path_params": {}}

with_params(method, path, params) := object.union(rest(method, path), {"path_params": params})

user(sub, roles) := {
	"issuer": "https://sso.example.com/realms/acme",
	"profile": "generic",
	"subject": sub,
	"scopes": [],
	"groups": [],
	"roles": roles,
}

grant(method, path) := {"method": method, "path": path}

test_owner_reads_their_record if {
	d := authz.decision with input as {"request": rest("GET", "/users/alice"), "token": user("alice", [])}
	d.allow == true
	d.principal_id == "alice"
	d.context == {"user": "alice"}
	d.reasons == {"alice owns GET /users/alice"}
	d.code == "owner"
	d.grants == {
		grant("GET", "/users/alice"),
		grant("PUT", "/users/alice"),
		grant("PATCH", "/users/alice"),
		grant("*", "/users/alice/*"),
	}
}

test_owner_does_anything_below_their_record if {
	tok := user("alice", [])
	d := authz.decision with input as {"request": rest("DELETE", "/users/alice/sessions/7"), "token": tok}
	d.allow == true
	d.reasons == {"alice owns DELETE /users/alice/sessions/7"}
}

test_someone_elses_record_is_refused if {
	tok := user("alice", [])
	d := authz.decision with input as {"request": rest("GET", "/users/bob/orders"), "token": tok}
	d.allow == false
	d.reasons == {
		`GET /users/bob/orders is user "bob"'s, not the caller's ("alice")`,
		"no grant covers GET /users/bob/orders",
	}
	d.code == "not_owner"

	# The grants are the same as for alice's own requests: only her paths.
	every g in d.grants {
		startswith(g.path, "/users/alice")
	}
}

test_a_longer_name_with_the_same_prefix_is_someone_else if {
	tok := user("alice", [])
	record := authz.decision with input as {"request": rest("GET", "/users/alice2"), "token": tok}
	record.allow == false
	below := authz.decision with input as {"request": rest("GET", "/users/alice2/orders"), "token": tok}
	below.allow == false
}

test_the_id_parameter_must_name_the_caller_too if {
	tok := user("alice", [])
	mine := authz.decision with input as {"request": with_params("GET", "/users/alice/orders", {"id": "alice"}), "token": tok}
	mine.allow == true
	theirs := authz.decision with input as {"request": with_params("GET", "/users/alice/orders", {"id": "bob"}), "token": tok}
	theirs.allow == false
	theirs.reasons == {`the path parameter id "bob" is not the caller ("alice")`}
	theirs.code == "not_owner"
}

test_a_subject_with_wildcards_gets_no_owner_grant if {
	tok := user("*", [])
	d := authz.decision with input as {"request": rest("GET", "/users/bob"), "token": tok}
	d.allow == false
	d.grants == set()
	`the subject "*" cannot be put in a path pattern: no owner grant` in d.reasons
}

test_a_subject_with_a_slash_gets_no_owner_grant if {
	tok := user("bob/x", [])
	d := authz.decision with input as {"request": rest("GET", "/users/bob/x"), "token": tok}
	d.allow == false
	d.grants == set()
}

test_support_reads_every_user_but_changes_none if {
	tok := user("sam", ["Support"])
	read := authz.decision with input as {"request": with_params("GET", "/users/bob", {"id": "bob"}), "token": tok}
	read.allow == true
	read.reasons == {"role Support grants GET /users/*"}
	read.code == "role_grant"
	write := authz.decision with input as {"request": with_params("PUT", "/users/bob", {"id": "bob"}), "token": tok}
	write.allow == false
	write.code == "not_owner"
	write.grants == read.grants
	grant("GET", "/users/*") in write.grants
	grant("PUT", "/users/sam") in write.grants
}

test_anonymous_is_denied if {
	d := authz.decision with input as {"request": rest("GET", "/users/alice")}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == set()
	d.reasons == {"no token: GET /users/alice needs a signed-in caller"}
	d.code == "not_public"
	d.context == {"user": "anonymous"}
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == set()
	d.reasons == set()
	d.code == "not_public"
}

test_a_route_outside_users_is_no_grant if {
	d := authz.decision with input as {"request": rest("GET", "/orders"), "token": user("alice", [])}
	d.allow == false
	d.code == "no_grant"
	d.reasons == {"no grant covers GET /orders"}
}

test_an_unsafe_subject_on_its_own_path_is_no_grant if {
	d := authz.decision with input as {"request": rest("GET", "/users/a*"), "token": user("a*", [])}
	d.allow == false
	d.code == "no_grant"
}
