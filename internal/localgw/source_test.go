package localgw

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/gateway"
)

func TestParseIdentitySources(t *testing.T) {
	tests := []struct {
		in      string
		want    IdentitySources
		wantErr string
	}{
		{in: "method.request.header.Authorization, method.request.querystring.tenant, stageVariables.env, context.httpMethod",
			want: IdentitySources{{"header", "authorization"}, {"query", "tenant"}, {"stage", "env"}, {"context", "httpMethod"}}},
		{in: "$request.header.Authorization,$request.querystring.tenant,$stageVariables.env,$context.routeKey",
			want: IdentitySources{{"header", "authorization"}, {"query", "tenant"}, {"stage", "env"}, {"context", "routeKey"}}},
		{in: "route.request.header.Auth,route.request.querystring.t",
			want: IdentitySources{{"header", "auth"}, {"query", "t"}}},
		{in: "header:Authorization,query:t,cookie:id_token,context:identity.sourceIp,stage:env",
			want: IdentitySources{{"header", "authorization"}, {"query", "t"}, {"cookie", "id_token"}, {"context", "identity.sourceIp"}, {"stage", "env"}}},
		{in: "$context.requestTime", wantErr: "routeKey"},
		{in: "$request.cookie.id", wantErr: "is not an identity source"},
		{in: "method.request.path.id", wantErr: "is not an identity source"},
		{in: "header:", wantErr: "names no header"},
		{in: "$context.", wantErr: "names no context"},
		{in: "", wantErr: "is not an identity source"},
		{in: "header:a,,header:b", wantErr: "is not an identity source"},
	}
	for _, tt := range tests {
		got, err := ParseIdentitySources(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case !reflect.DeepEqual(got, tt.want):
			t.Errorf("%q = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The cache key is read from the input document's request, whatever the
// types of its maps (as gateway.Request.Document gives them, or as JSON).
func TestIdentitySourcesKey(t *testing.T) {
	sources, err := ParseIdentitySources("$request.header.Authorization,$context.routeKey,$stageVariables.env,cookie:c,query:q")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"method": "GET", "route": "/orders/{id}", "route_key": "GET /orders/{id}",
		"headers": map[string]string{"authorization": "Bearer t"}, "query": map[string]any{"q": "1"},
		"cookies": map[string]string{"c": "v"}, "stage_variables": map[string]any{"env": "dev"},
	}
	key, ok := sources.Key(doc)
	if !ok || key != "Bearer t\x00GET /orders/{id}\x00dev\x00v\x001" {
		t.Fatalf("Key = %q, %v", key, ok)
	}
	doc["query"] = map[string]any{}
	if _, ok := sources.Key(doc); ok {
		t.Fatal("a missing identity source went unnoticed")
	}
}

// An HTTP API's payload 2.0 carries the cookies apart from the headers: the
// Cookie header, as an identity source, is read from them.
func TestIdentitySourcesKeyCookieHeaderOfHTTPAPIs(t *testing.T) {
	sources, err := ParseIdentitySources("$request.header.Cookie")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"headers": map[string]any{}, "cookies": map[string]any{"theme": "dark", "id": "7"}}
	key, ok := sources.Key(doc)
	if !ok || key != "id=7; theme=dark" {
		t.Fatalf("Key = %q, %v", key, ok)
	}
}

// Missing names the identity sources an event lacks, for which API Gateway
// answers 401 without calling the authorizer; a TOKEN authorizer's identity
// source is its token.
func TestIdentitySourcesMissing(t *testing.T) {
	sources, err := ParseIdentitySources("$request.header.Authorization,$request.querystring.tenant")
	if err != nil {
		t.Fatal(err)
	}
	h := map[string][]string{"Authorization": {"Bearer t"}}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"both", Request{Kind: "http", Path: "/a?tenant=x", Headers: h}, ""},
		{"no tenant", Request{Kind: "http", Path: "/a", Headers: h}, "query:tenant"},
		{"neither", Request{Kind: "rest", Path: "/a"}, "header:authorization,query:tenant"},
		{"a token event with its token", Request{Kind: "token", Path: "/a", Headers: h}, ""},
		{"a token event without", Request{Kind: "token", Path: "/a"}, "header:authorization"},
	}
	for _, tt := range tests {
		raw, err := Event(tt.req, DefaultAPI)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := gateway.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := sources.Missing(ev).String(); got != tt.want {
			t.Errorf("%s: Missing = %q, want %q", tt.name, got, tt.want)
		}
	}
}
