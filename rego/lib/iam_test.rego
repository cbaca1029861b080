package lib.iam_test

import data.lib.iam

test_star_crosses_slashes if {
	iam.covers({"method": "GET", "path": "/orders/*"}, {"method": "GET", "path": "/orders/42/items/7"})
}

test_star_crosses_dots if {
	iam.covers({"method": "GET", "path": "/files/*"}, {"method": "GET", "path": "/files/report.final.pdf"})
}

test_star_needs_the_slash_before_it if {
	not iam.covers({"method": "GET", "path": "/orders/*"}, {"method": "GET", "path": "/orders"})
}

test_question_mark_is_one_character if {
	iam.covers({"method": "GET", "path": "/v?/x"}, {"method": "GET", "path": "/v1/x"})
	not iam.covers({"method": "GET", "path": "/v?/x"}, {"method": "GET", "path": "/v12/x"})
}

test_brackets_and_braces_are_literal if {
	iam.covers({"method": "GET", "path": "/a[1]{b}"}, {"method": "GET", "path": "/a[1]{b}"})
	not iam.covers({"method": "GET", "path": "/a[12]"}, {"method": "GET", "path": "/a1"})
	not iam.covers({"method": "GET", "path": "/{a,b}"}, {"method": "GET", "path": "/a"})
}

test_backslash_is_literal if {
	iam.covers({"method": "GET", "path": `/a\*`}, {"method": "GET", "path": `/a\anything`})
	not iam.covers({"method": "GET", "path": `/a\b`}, {"method": "GET", "path": "/ab"})
}

test_method_star_and_case if {
	iam.covers({"method": "*", "path": "/x"}, {"method": "DELETE", "path": "/x"})
	iam.covers({"method": "get", "path": "/x"}, {"method": "GET", "path": "/x"})
	not iam.covers({"method": "GET", "path": "/x"}, {"method": "POST", "path": "/x"})
}

test_websocket_route_key if {
	iam.covers({"method": "*", "path": "$connect"}, {"method": "", "path": "$connect"})
	not iam.covers({"method": "GET", "path": "$connect"}, {"method": "", "path": "$connect"})
}
