# METADATA
# title: IAM-style matching of grants
# description: |
#   A grant is a method and a path pattern. It covers a request the way the IAM
#   policy built from it will: '*' matches any run of characters, '/' included,
#   and '?' exactly one; nothing else is special.
package lib.iam

# METADATA
# description: The grant's method and path pattern both cover the request.
covers(grant, request) if {
	method_matches(grant.method, request.method)
	path_matches(grant.path, request.path)
}

method_matches("*", _)

method_matches(pattern, method) if upper(pattern) == method

# A pattern without wildcards is the path itself.
path_matches(pattern, path) if {
	not wildcard(pattern)
	pattern == path
}

# METADATA
# description: |
#   Matches path against an IAM pattern. glob.match would also treat [, ], {, }
#   and \ as special; quoting them all and unquoting * and ? leaves IAM's two.
path_matches(pattern, path) if {
	wildcard(pattern)
	iam_glob := replace(replace(glob.quote_meta(pattern), `\*`, "*"), `\?`, "?")
	glob.match(iam_glob, null, path)
}

wildcard(pattern) if contains(pattern, "*")

wildcard(pattern) if contains(pattern, "?")
