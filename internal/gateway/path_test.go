package gateway

import (
	"strings"
	"testing"
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
		{"a decoded path parameter", Request{Path: "/orders/..%2Fadmin", PathParams: map[string]string{"proxy": "../admin"}}, "encoded slash"},
		{"a path parameter alone", Request{Path: "/orders/x", PathParams: map[string]string{"id": "a/../b"}}, "path parameter id has a dot segment"},
		{"a path parameter with a backslash", Request{Path: "/orders/x", PathParams: map[string]string{"id": `a\b`}}, "backslash"},
		{"an encoded percent sign is refused even where the decoded parameter is plain", Request{Path: "/orders/100%25", PathParams: map[string]string{"id": "100%"}}, "double encoding"},
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

func TestRedactRemovesEveryCopyOfTheToken(t *testing.T) {
	const tok = "eyJh.eyJz.c2ln"
	r := Request{
		Path: "/orders/1", RawPath: "/prod/orders/1", MethodARN: "arn:aws:execute-api:r:1:a/prod/GET/orders/1",
		UserAgent:      "curl " + tok,
		Headers:        map[string]string{"user-agent": "curl " + tok, "x-copy": "Bearer " + tok, "accept": "*/*"},
		Query:          map[string]string{"t": tok, tok: "1", "page": "2"},
		Cookies:        map[string]string{"backup": tok, "theme": "dark"},
		PathParams:     map[string]string{"id": "1", "other": "x" + tok},
		StageVariables: map[string]string{},
	}
	if !r.Redact(tok) {
		t.Fatal("Redact says the token is in the path")
	}
	doc := r.Document()
	for k, v := range doc {
		if strings.Contains(strings.ReplaceAll(strings.TrimSpace(toText(v)), " ", ""), tok) {
			t.Errorf("input.request.%s still holds the token: %v", k, v)
		}
	}
	if r.Headers["accept"] != "*/*" || r.Query["page"] != "2" || r.Cookies["theme"] != "dark" || r.PathParams["id"] != "1" {
		t.Errorf("values without the token were removed: %+v", r)
	}
	for _, in := range []Request{{Path: "/t/" + tok}, {RawPath: "/prod/t/" + tok}, {MethodARN: "arn:...:a/prod/GET/t/" + tok}, {RouteKey: "GET /" + tok}} {
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
