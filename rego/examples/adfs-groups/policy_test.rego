package authz_test

import data.authz

admins := "CN=Admins,OU=Groups,DC=contoso,DC=com"

rest(method, path) := {"kind": "rest", "method": method, "path": path}

adfs(sub, groups) := {
	"issuer": "http://fs.contoso.com/adfs/services/trust",
	"profile": "adfs",
	"subject": sub,
	"scopes": [],
	"groups": groups,
	"roles": [],
}

grant(method, path) := {"method": method, "path": path}

test_domain_users_read_documents if {
	tok := adfs("alice@contoso.com", ["Domain Users"])
	d := authz.decision with input as {"request": rest("GET", "/documents/2026/plan.docx"), "token": tok}
	d.allow == true
	d.principal_id == "alice@contoso.com"
	d.reasons == {"group Domain Users grants GET /documents/*"}
	d.code == "group_grant"
	d.context == {"groups": `["Domain Users"]`}
	d.grants == {
		grant("GET", "/health"),
		grant("GET", "/profile"),
		grant("GET", "/documents"),
		grant("GET", "/documents/*"),
	}
}

test_domain_users_may_not_write if {
	tok := adfs("alice@contoso.com", ["Domain Users"])
	d := authz.decision with input as {"request": rest("PUT", "/documents/1"), "token": tok}
	d.allow == false
	d.reasons == {`no grant of the groups ["Domain Users"] covers PUT /documents/1`}
	d.code == "no_grant"
}

test_a_distinguished_name_is_one_group if {
	tok := adfs("root@contoso.com", [admins])
	d := authz.decision with input as {"request": rest("DELETE", "/admin/users/7"), "token": tok}
	d.allow == true
	d.reasons == {"group CN=Admins,OU=Groups,DC=contoso,DC=com grants * /admin/*"}
	d.context.groups == `["CN=Admins,OU=Groups,DC=contoso,DC=com"]`
}

test_parts_of_a_distinguished_name_grant_nothing if {
	tok := adfs("mallory@contoso.com", ["CN=Admins", "OU=Groups", "DC=contoso", "DC=com"])
	d := authz.decision with input as {"request": rest("DELETE", "/admin/users/7"), "token": tok}
	d.allow == false
	d.grants == {grant("GET", "/health")}
}

test_two_groups_in_one_string_are_one_unknown_group if {
	tok := adfs("bob@contoso.com", ["Domain Users,CONTOSO\\Document Editors"])
	d := authz.decision with input as {"request": rest("GET", "/documents"), "token": tok}
	d.allow == false
	d.grants == {grant("GET", "/health")}
	d.reasons == {"no grant of the groups [] covers GET /documents"}
	d.code == "no_grant"
}

test_part_of_a_name_with_a_space_grants_nothing if {
	tok := adfs("bob@contoso.com", ["Domain", "Users"])
	d := authz.decision with input as {"request": rest("GET", "/documents"), "token": tok}
	d.allow == false
}

test_names_are_compared_without_case if {
	tok := adfs("carol@contoso.com", ["domain users", "contoso\\document editors"])
	d := authz.decision with input as {"request": rest("POST", "/documents"), "token": tok}
	d.allow == true
	d.reasons == {"group CONTOSO\\Document Editors grants POST /documents"}

	# Names as the data spells them, in a JSON array: commas stay unambiguous.
	d.context.groups == `["CONTOSO\\Document Editors","Domain Users"]`
}

test_anonymous_health_check_only if {
	health := authz.decision with input as {"request": rest("GET", "/health")}
	health.allow == true
	health.principal_id == "anonymous"
	health.reasons == {"public route grants GET /health"}
	health.code == "public_route"
	docs := authz.decision with input as {"request": rest("GET", "/documents")}
	docs.allow == false
	docs.reasons == {"no token, and GET /documents is not a public route"}
	docs.code == "not_public"
	docs.grants == {grant("GET", "/health")}
}

test_decision_is_complete_on_an_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	d.principal_id == "anonymous"
	d.grants == {grant("GET", "/health")}
	d.context == {"groups": "[]"}
	d.reasons == set()
	d.code == "not_public"
}
