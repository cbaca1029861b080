package gateway

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxResourceLength is the longest Resource value API Gateway accepts in an
// authorizer's policy statement.
const MaxResourceLength = 512

// ARN is an execute-api method or route ARN, the resource every statement of an
// authorizer's policy names:
//
//	arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH   (REST, HTTP)
//	arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/ROUTE       (WebSocket $connect)
//
// The path is kept as API Gateway wrote it: it may contain ':' and encoded characters.
type ARN struct {
	Partition string
	Region    string
	AccountID string
	APIID     string
	Stage     string
	// Method is the HTTP verb, or "" when the ARN names a route key.
	Method string
	// Path is what follows the verb: the resource path with its leading "/"
	// (empty for an ARN that ends at the verb), or the route key (such as
	// "$connect") when Method is "".
	Path string

	raw string
}

// ParseARN parses an execute-api method or route ARN.
func ParseARN(s string) (ARN, error) {
	if s == "" {
		return ARN{}, errors.New("gateway: the event has no method ARN")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ARN{}, errors.New("gateway: method ARN contains a control character")
		}
	}
	// The path may contain ':', so only the first five separate fields.
	fields := strings.SplitN(s, ":", 6)
	if len(fields) != 6 || fields[0] != "arn" || fields[2] != "execute-api" {
		return ARN{}, fmt.Errorf("gateway: %q is not an execute-api ARN", truncate(s, 80))
	}
	a := ARN{Partition: fields[1], Region: fields[3], AccountID: fields[4], raw: s}
	if a.Partition == "" || a.Region == "" || a.AccountID == "" {
		return ARN{}, fmt.Errorf("gateway: ARN %q lacks a partition, region or account", truncate(s, 80))
	}
	segments := strings.SplitN(fields[5], "/", 4)
	if len(segments) < 3 || segments[0] == "" || segments[1] == "" || segments[2] == "" {
		return ARN{}, fmt.Errorf("gateway: ARN %q lacks an API id, stage or verb", truncate(s, 80))
	}
	a.APIID, a.Stage = segments[0], segments[1]
	switch {
	case len(segments) == 4:
		a.Method, a.Path = segments[2], "/"+segments[3]
	case strings.HasPrefix(segments[2], "$"):
		a.Path = segments[2] // a route key: $connect, $default
	default:
		// An ARN that ends at the verb. IAM compares the ARN as sent, so its
		// path is the empty text after the verb, not "/": a grant of "/" is
		// ".../GET/", which does not cover ".../GET", and the policy must
		// agree with that.
		a.Method, a.Path = segments[2], ""
	}
	if !isVerb(a.Method) {
		return ARN{}, fmt.Errorf("gateway: ARN %q names %q, which is not an HTTP method", truncate(s, 80), truncate(a.Method, 20))
	}
	return a, nil
}

// isVerb reports whether the method of an ARN is letters, or IAM's "*", as API
// Gateway writes it; "" (a route key) passes. Anything else could not come from
// API Gateway, and would make the ARN's text mean something else to IAM.
func isVerb(m string) bool {
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*') {
			return false
		}
	}
	return true
}

// String returns the ARN exactly as API Gateway sent it.
func (a ARN) String() string { return a.raw }

// HasWildcard reports whether the ARN contains a character IAM treats as a
// wildcard. Such an ARN cannot name only itself in an Allow statement.
func (a ARN) HasWildcard() bool { return strings.ContainsAny(a.raw, "*?") }

// verbs are the methods API Gateway routes, which ANY stands for.
var verbs = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// Resources returns the ARNs that cover a grant (a method, or "*", and a path
// pattern) on the same API and stage, exactly as the policy's own matching does:
// a request's ARN is the prefix, the verb and the path, so the prefix, the
// grant's verb and the grant's pattern cover it when the pattern covers the path.
//
// IAM's '*' also matches '/', so a method of "*" cannot become "*" in the ARN:
// ".../*/profile" would cover ".../DELETE/admin/profile". It becomes one ARN per
// verb instead. A grant for the other kind of ARN (a WebSocket route key such as
// "$connect" on a REST API, or a path on a WebSocket API) covers nothing, nor
// does a grant of one verb on a WebSocket route, whose requests have none.
func (a ARN) Resources(method, path string) []string {
	prefix := "arn:" + a.Partition + ":execute-api:" + a.Region + ":" + a.AccountID + ":" + a.APIID + "/" + a.Stage + "/"
	if a.Method == "" {
		if method == "*" && (strings.HasPrefix(path, "$") || strings.HasPrefix(path, "*")) {
			return []string{prefix + path}
		}
		return nil
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "*") {
		return nil
	}
	methods := []string{method}
	if method == "*" {
		methods = verbs
	}
	out := make([]string, len(methods))
	for i, m := range methods {
		out[i] = prefix + m + path
	}
	return out
}

// denyResource returns a Resource that covers arn and fits API Gateway's limit:
// a longer ARN is cut and ends in "*", which denies more, never less.
func denyResource(arn string) string {
	if len(arn) <= MaxResourceLength {
		return arn
	}
	return truncate(arn, MaxResourceLength-1) + "*"
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
