package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAmbiguousPath(t *testing.T) {
	tests := []struct {
		name   string
		req    Request
		reason string // a part of the reason; "" when the path is accepted
	}{
		{"plain", Request{Path: "/orders/42", RawPath: "/prod/orders/42"}, ""},
		{"root", Request{Path: "/", RawPath: "/"}, ""},
		{"dots inside names", Request{Path: "/files/a..b/.well-known/x.json", RawPath: "/files/a..b/.well-known/x.json"}, ""},
		{"encoded space and colon", Request{Path: "/orders/urn%3Aacme%20x", RawPath: "/orders/urn%3Aacme%20x"}, ""},
		{"unicode", Request{Path: "/café/é", RawPath: "/caf%C3%A9/%C3%A9"}, ""},
		{"empty segment", Request{Path: "/orders//1", RawPath: "/orders//1"}, ""},
		{"dot-dot", Request{Path: "/orders/../admin/users"}, "dot segment"},
		{"dot", Request{Path: "/orders/./1"}, "dot segment"},
		{"trailing dot-dot", Request{Path: "/orders/.."}, "dot segment"},
		{"dot-dot with parameters", Request{Path: "/orders/..;/admin"}, "dot segment"},
		{"encoded dots", Request{Path: "/orders/%2e%2e/admin/users"}, "encoded dot"},
		{"one encoded dot", Request{Path: "/orders/.%2E/admin"}, "encoded dot"},
		{"encoded slash", Request{Path: "/orders/..%2Fadmin"}, "encoded slash"},
		{"encoded slash, lower case", Request{Path: "/orders/a%2fb"}, "encoded slash"},
		{"encoded backslash", Request{Path: "/orders/..%5cadmin"}, "encoded backslash"},
		{"double encoding", Request{Path: "/orders/%252e%252e/admin"}, "double encoding"},
		{"backslash", Request{Path: `/orders/..\admin`}, "backslash"},
		{"NUL", Request{Path: "/orders/1\x00.json"}, "control character"},
		{"encoded NUL", Request{Path: "/orders/1%00.json"}, "encoded control"},
		{"encoded newline", Request{Path: "/orders/1%0a"}, "encoded control"},
		{"DEL", Request{Path: "/orders/\x7f"}, "control character"},
		{"percent without digits", Request{Path: "/orders/100%"}, "malformed percent"},
		{"percent with one digit", Request{Path: "/orders/%2"}, "malformed percent"},
		{"percent with non-hex", Request{Path: "/orders/%zz"}, "malformed percent"},
		{"only the raw path", Request{Path: "/admin", RawPath: "/prod/x/../admin"}, "dot segment"},
		{"encoded slash before the decoded parameter", Request{Path: "/orders/..%2Fadmin", PathParams: map[string]string{"proxy": "../admin"}}, "encoded slash"},
		{"a path parameter alone", Request{Path: "/orders/x", PathParams: map[string]string{"id": "a/../b"}}, "path parameter id has a dot segment"},
		{"a path parameter with a backslash", Request{Path: "/orders/x", PathParams: map[string]string{"id": `a\b`}}, "backslash"},
		{"an encoded percent sign is refused even where the decoded parameter is plain", Request{Path: "/orders/100%25", PathParams: map[string]string{"id": "100%"}}, "double encoding"},
		{"encoded semicolon", Request{Path: "/orders/..%3B/admin"}, "encoded semicolon"},
		{"three dots", Request{Path: "/orders/.../admin"}, "dot segment"},
		{"dots and a space", Request{Path: "/orders/..%20/admin"}, "dot segment"},
		{"dots and a raw space", Request{Path: "/orders/.. /admin"}, "dot segment"},
		{"overlong dot", Request{Path: "/orders/%c0%ae%c0%ae/admin"}, "not UTF-8"},
		{"overlong slash", Request{Path: "/orders/..%c0%afadmin"}, "not UTF-8"},
		{"three-byte overlong dot", Request{Path: "/orders/%e0%80%ae%e0%80%ae/admin"}, "not UTF-8"},
		{"fullwidth dots", Request{Path: "/orders/．．/admin"}, "normalises"},
		{"fullwidth slash", Request{Path: "/orders/..／admin"}, "normalises"},
		{"encoded fullwidth slash", Request{Path: "/orders/..%ef%bc%8fadmin"}, "normalises"},
		{"two-dot leader", Request{Path: "/orders/‥/admin"}, "normalises"},
		{"division slash", Request{Path: "/orders/..%E2%88%95admin"}, "normalises"},
		{"set minus", Request{Path: "/orders/..∖admin"}, "normalises"},
		{"a decoded parameter with a fullwidth dot", Request{Path: "/orders/x", PathParams: map[string]string{"id": "．．"}}, "normalises"},
		{"a dot inside a name stays", Request{Path: "/orders/v1.2/x..y/.z", RawPath: "/orders/v1.2/x..y/.z"}, ""},
		{"other scripts stay", Request{Path: "/日本/ünïcødé/%E6%97%A5"}, ""},
		{"a WebSocket route key is not a path", Request{Kind: KindWebSocket, Path: "$connect", RawPath: "$connect"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.req.AmbiguousPath()
			if tt.reason == "" && got != "" || tt.reason != "" && !strings.Contains(got, tt.reason) {
				t.Fatalf("AmbiguousPath() = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestRedactReplacesEveryCopyOfTheToken(t *testing.T) {
	const tok = "eyJh.eyJz.c2ln"
	r := Request{
		Path: "/orders/1", RawPath: "/prod/orders/1", MethodARN: "arn:aws:execute-api:r:1:a/prod/GET/orders/1",
		UserAgent:      "curl " + tok,
		Headers:        map[string]string{"user-agent": "curl " + tok, "x-copy": "Bearer " + tok, "accept": "*/*", "x-forwarded-for": tok + ", 203.0.113.9"},
		Query:          map[string]string{"t": tok, tok: "1", "page": "2"},
		Cookies:        map[string]string{"backup": tok, "theme": "dark"},
		PathParams:     map[string]string{"id": "1", "other": "x" + tok},
		StageVariables: map[string]string{},
	}
	if !r.Redact(tok) {
		t.Fatal("Redact says the token is in the path")
	}
	for k, v := range r.Document() {
		if strings.Contains(toText(v), tok) {
			t.Errorf("input.request.%s still holds the token: %v", k, v)
		}
	}
	// Entries stay, with the token replaced: a client must not be able to
	// remove a field the policy reads by writing its token into it.
	for what, got := range map[string][2]string{
		"x-forwarded-for": {r.Headers["x-forwarded-for"], "[token], 203.0.113.9"},
		"x-copy":          {r.Headers["x-copy"], "Bearer [token]"},
		"user agent":      {r.UserAgent, "curl [token]"},
		"query t":         {r.Query["t"], "[token]"},
		"query name":      {r.Query["[token]"], "1"},
		"cookie":          {r.Cookies["backup"], "[token]"},
		"path parameter":  {r.PathParams["other"], "x[token]"},
		"accept":          {r.Headers["accept"], "*/*"},
		"page":            {r.Query["page"], "2"},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", what, got[0], got[1])
		}
	}
	encoded := "/t/eyJ%68.eyJz.c2ln" // the token, one character percent-encoded
	for _, in := range []Request{{Path: "/t/" + tok}, {RawPath: "/prod/t/" + tok}, {MethodARN: "arn:...:a/prod/GET/t/" + tok},
		{RouteKey: "GET /" + tok}, {Path: encoded}, {RawPath: "/prod" + encoded}} {
		if in.Redact(tok) {
			t.Errorf("Redact accepts a token in %+v", in)
		}
	}
}

func toText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]string:
		var b strings.Builder
		for k, v := range x {
			b.WriteString(k + "=" + v + ";")
		}
		return b.String()
	}
	return ""
}

// FuzzAmbiguousPathDeny holds the Deny that travels with grants to the path
// rule: a path the rule accepts is never denied by it (or an Allow would refuse
// its own request), and the attack forms the patterns name are always refused.
func FuzzAmbiguousPathDeny(f *testing.F) {
	for _, p := range []string{"/orders/1", "/orders/../admin", "/a/%2e%2E/b", "/x/.", "/x/..;y", `/a\b`, "/a%25b", "/a/...", "/é/%C3%A9",
		"/a/%c0%ae", "/a;b/c", "/a/.b/c.", "/a%0Ab"} {
		f.Add(p)
	}
	const base = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"
	f.Fuzz(func(t *testing.T, path string) {
		arn, err := ParseARN(base + "GET" + path)
		if err != nil || !utf8.ValidString(path) {
			// API Gateway sends valid ARNs, in JSON, which is UTF-8.
			t.Skip("not an ARN API Gateway could send")
		}
		req := Request{Path: arn.Path, RawPath: arn.Path}
		why := req.AmbiguousPath()
		denied := false
		for _, res := range arn.AmbiguousPathResources() {
			if wildcardMatch(res, arn.String()) {
				denied = true
			}
		}
		if denied && why == "" {
			t.Fatalf("the Deny covers %q, which the path rule accepts", path)
		}
	})
}
