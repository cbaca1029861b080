package system.log_test

import data.system.log

# A decision-log event as OPA's plugin gives it to the mask policy.
event(request) := {
	"decision_id": "4ad0a6a4-6a5e-4d4c-a0a8-0c1b2f0d6e1a",
	"path": "authz/decision",
	"input": {"request": request},
	"result": {"allow": false, "code": "no_grant", "reasons": ["no grant of the roles [] covers GET /orders"]},
}

test_cookies_are_always_erased if {
	log.mask == {"/input/request/cookies"} with input as event({
		"headers": {"accept": "application/json", "user-agent": "curl/8.5", "x-request-id": "r-1"},
		"query": {"page": "2", "tag": "a,b"},
		"cookies": {"theme": "dark", "sid": "s3cr3t"},
	})
}

test_an_event_without_a_request if {
	log.mask == {"/input/request/cookies"} with input as {"decision_id": "x", "result": true}
	log.mask == {"/input/request/cookies"} with input as {}
}

test_credential_headers_are_erased if {
	headers := {
		"accept": "application/json",
		"authorization": "Basic YWxpY2U6cGFzc3dvcmQ=",
		"proxy-authorization": "Basic eDp5",
		"cookie": "sid=s3cr3t",
		"x-api-key": "k-123",
		"x-amz-security-token": "IQoJb3JpZ2lu",
		"x-csrf-token": "c",
		"x-xsrf-token": "x",
		"x-session-id": "s",
		"x-client-secret": "cs",
		"x-password": "p",
		"x-myapp-apikey": "k",
		"x-jwt-assertion": "eyJ",
		"content-type": "application/json",
		"x-forwarded-for": "203.0.113.9",
	}
	log.mask == {
		"/input/request/cookies",
		"/input/request/headers/authorization",
		"/input/request/headers/proxy-authorization",
		"/input/request/headers/cookie",
		"/input/request/headers/x-api-key",
		"/input/request/headers/x-amz-security-token",
		"/input/request/headers/x-csrf-token",
		"/input/request/headers/x-xsrf-token",
		"/input/request/headers/x-session-id",
		"/input/request/headers/x-client-secret",
		"/input/request/headers/x-password",
		"/input/request/headers/x-myapp-apikey",
		"/input/request/headers/x-jwt-assertion",
	} with input as event({"headers": headers, "query": {}, "cookies": {}})
}

test_credential_query_parameters_are_erased_whatever_their_case if {
	query := {
		"access_token": "a",
		"id_token": "i",
		"api_key": "k",
		"API_KEY": "K",
		"sig": "s",
		"signature": "s",
		"X-Amz-Signature": "f00d",
		"X-Amz-Credential": "AKIA/20260101/eu-west-1/execute-api/aws4_request",
		"X-Amz-Security-Token": "IQoJ",
		"X-Amz-Date": "20260101T000000Z",
		"X-Amz-Expires": "300",
		"signup": "1",
		"page": "2",
	}
	log.mask == {
		"/input/request/cookies",
		"/input/request/query/access_token",
		"/input/request/query/id_token",
		"/input/request/query/api_key",
		"/input/request/query/API_KEY",
		"/input/request/query/sig",
		"/input/request/query/signature",
		"/input/request/query/X-Amz-Signature",
		"/input/request/query/X-Amz-Credential",
		"/input/request/query/X-Amz-Security-Token",
	} with input as event({"headers": {"accept": "*/*"}, "query": query})
}

# OPA matches each part of a mask path as written: it does not decode
# RFC 6901's ~0, so a "~" stays a "~" (a "~0" would miss the header).
test_a_tilde_is_written_as_it_is if {
	log.mask == {
		"/input/request/cookies",
		"/input/request/headers/x~token",
		"/input/request/headers/x~1session",
	} with input as event({"headers": {"x~token": "t", "x~1session": "s", "x~other": "o"}})
}

# A "/" cannot be written in an OPA mask path (nor "~1" for it): the map is
# replaced by a copy with the sensitive values masked, the others kept.
test_a_slash_in_a_sensitive_name_masks_the_map_by_upsert if {
	log.mask == {
		"/input/request/cookies",
		"/input/request/headers/authorization",
		{"op": "upsert", "path": "/input/request/query", "value": {
			"a/token": "[masked]",
			"access_token": "[masked]",
			"page": "2",
			"a/b": "c",
		}},
	} with input as event({
		"headers": {"authorization": "Basic eDp5", "accept": "*/*"},
		"query": {"a/token": "t", "access_token": "a", "page": "2", "a/b": "c"},
	})
}

# A part that is no valid escape ("%zz") would make OPA drop the whole event,
# so that a client could keep its requests out of the log: never written.
test_a_name_that_escaping_would_change_is_never_written_into_a_path if {
	headers := {"x-token%zz": "t", "x-token!": "u", "[token]": "v", "x-session id": "w", "accept": "*/*"}
	log.mask == {
		"/input/request/cookies",
		{"op": "upsert", "path": "/input/request/headers", "value": {
			"x-token%zz": "[masked]",
			"x-token!": "[masked]",
			"[token]": "[masked]",
			"x-session id": "[masked]",
			"accept": "*/*",
		}},
	} with input as event({"headers": headers})
}

test_names_that_escaping_keeps_are_written if {
	log.mask == {
		"/input/request/cookies",
		"/input/request/query/token:a@b.c+d=e$f&g",
	} with input as event({"query": {"token:a@b.c+d=e$f&g": "t"}})
}

test_the_lists_can_be_extended if {
	log.mask == {
		"/input/request/cookies",
		"/input/request/headers/x-partner-key",
		"/input/request/headers/x-passphrase-hint",
	} with input as event({"headers": {"x-partner-key": "k", "x-passphrase-hint": "h", "accept": "*/*"}})
		with log.sensitive_names as {"x-partner-key"}
		with log.sensitive_name_parts as {"passphrase"}
}

test_name_parts_are_matched_as_written if {
	log.sensitive("x-my.token+v2") with log.sensitive_name_parts as {".token+"}
	not log.sensitive("x-myXtoken+v2") with log.sensitive_name_parts as {".token+"}
	not log.sensitive("x-anything") with log.sensitive_name_parts as set()
	log.sensitive("X-Session-Id")
	not log.sensitive("accept")
}

# Parts that Go's regexp cannot take in one expression (it gives up on a
# nesting this deep) are tested one by one: masking never fails open.
test_too_many_parts_for_one_expression_still_mask if {
	parts := {sprintf("%0*d", [n, 0]) | some n in numbers.range(1, 1000)} | {"session"}
	not log.sensitive_parts_compile with log.sensitive_name_parts as parts
	log.sensitive("X-Session-Id") with log.sensitive_name_parts as parts
	not log.sensitive("accept") with log.sensitive_name_parts as parts
}

test_parts_are_compared_lower_cased if {
	log.sensitive("x-my-apitoken") with log.sensitive_name_parts as {"ApiToken"}
}
