package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/awsgolden"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		raw     func(t *testing.T) []byte
		kind    Kind
		version string
		token   string
		check   func(t *testing.T, r Request)
	}{
		{
			name: "aws golden REST REQUEST",
			raw:  func(t *testing.T) []byte { return awsgolden.Read(t, "apigw-custom-auth-request-type-request.json") },
			kind: KindREST,
			check: func(t *testing.T, r Request) {
				want := Request{Kind: KindREST, Method: "GET", Path: "/request", RawPath: "/request", Route: "/request", RouteKey: "GET /request",
					SourceIP: "...", UserAgent: "...", APIID: "s4x3opwd6i", Stage: "test", AccountID: "123456789012",
					Region: "us-east-1", RequestID: "...", MethodARN: "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/request"}
				sameScalars(t, r, want)
				equal(t, "headers[headerauth1]", r.Headers["headerauth1"], "headerValue1")
				equal(t, "headers[x-amz-date]", r.Headers["x-amz-date"], "20170718T062915Z")
				equal(t, "headers[cache-control]", r.Headers["cache-control"], "no-cache")
				equal(t, "query", r.Query, map[string]string{"QueryString1": "queryValue1"})
				equal(t, "stage_variables", r.StageVariables, map[string]string{"StageVar1": "stageValue1"})
				equal(t, "path_params", r.PathParams, map[string]string{})
				for name := range r.Headers {
					if name != strings.ToLower(name) {
						t.Errorf("header %q is not lower-case", name)
					}
				}
			},
		},
		{
			name: "aws golden TOKEN",
			raw:  func(t *testing.T) []byte { return awsgolden.Read(t, "apigw-custom-auth-request.json") },
			kind: KindToken, token: "allow",
			check: func(t *testing.T, r Request) {
				sameScalars(t, r, Request{Kind: KindToken, Method: "GET", Path: "/", APIID: "ymy8tbxw7b", Stage: "*",
					AccountID: "123456789012", Region: "us-west-2", MethodARN: "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/"})
				equal(t, "headers", r.Headers, map[string]string{})
			},
		},
		{
			name: "aws golden HTTP payload 1.0",
			raw:  func(t *testing.T) []byte { return awsgolden.Read(t, "apigw-v2-custom-authorizer-v1-request.json") },
			kind: KindHTTP, version: "1.0",
			check: func(t *testing.T, r Request) {
				sameScalars(t, r, Request{Kind: KindHTTP, Method: "GET", Path: "/request", RawPath: "/request", Route: "/request", RouteKey: "GET /request",
					SourceIP: "...", UserAgent: "...", APIID: "abcdef123", Stage: "test", AccountID: "123456789012",
					Region: "us-east-1", RequestID: "...", MethodARN: "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"})
				equal(t, "headers[cloudfront-viewer-country]", r.Headers["cloudfront-viewer-country"], "US")
				equal(t, "query", r.Query, map[string]string{"QueryString1": "queryValue1"})
			},
		},
		{
			name: "aws golden HTTP payload 2.0",
			raw:  func(t *testing.T) []byte { return awsgolden.Read(t, "apigw-v2-custom-authorizer-v2-request.json") },
			kind: KindHTTP, version: "2.0",
			check: func(t *testing.T, r Request) {
				// AWS's sample says POST in requestContext.http and GET in the
				// routeArn: the ARN's verb is the one API Gateway enforces.
				sameScalars(t, r, Request{Kind: KindHTTP, Method: "GET", Path: "/request", RawPath: "/my/path", Route: "$default", RouteKey: "$default",
					SourceIP: "IP", UserAgent: "agent", APIID: "api-id", Stage: "$default", AccountID: "123456789012", Region: "us-east-1",
					DomainName: "id.execute-api.us-east-1.amazonaws.com", RequestID: "id", TimeMS: 1583348638390,
					MethodARN: "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"})
				equal(t, "headers", r.Headers, map[string]string{"header1": "value1", "header2": "value2"})
				equal(t, "query", r.Query, map[string]string{"parameter1": "value1,value2", "parameter2": "value"})
				equal(t, "path_params", r.PathParams, map[string]string{"parameter1": "value1"})
				equal(t, "stage_variables", r.StageVariables, map[string]string{"stageVariable1": "value1", "stageVariable2": "value2"})
				// Cookies without '=' carry no name and are left out.
				equal(t, "cookies", r.Cookies, map[string]string{})
			},
		},
		{
			name: "WebSocket $connect",
			raw:  func(t *testing.T) []byte { return readEvent(t, "websocket-connect.json") },
			kind: KindWebSocket,
			check: func(t *testing.T, r Request) {
				sameScalars(t, r, Request{Kind: KindWebSocket, Method: "", Path: "$connect", RawPath: "$connect", Route: "$connect", RouteKey: "$connect",
					SourceIP: "203.0.113.9", UserAgent: "wscat/5.2", APIID: "ws7api9xyz", Stage: "prod", AccountID: "123456789012",
					Region: "eu-west-1", DomainName: "ws7api9xyz.execute-api.eu-west-1.amazonaws.com", RequestID: "Ln5mBEyLjoEFY2A=",
					TimeMS: 1795255200123, MethodARN: "arn:aws:execute-api:eu-west-1:123456789012:ws7api9xyz/prod/$connect",
					ConnectionID: "Ln5mBcLBjoECIeQ="})
				equal(t, "query", r.Query, map[string]string{"room": "general"})
				equal(t, "headers[sec-websocket-version]", r.Headers["sec-websocket-version"], "13")
				equal(t, "stage_variables", r.StageVariables, map[string]string{"backend": "chat"})
			},
		},
		{
			name: "REST edge cases: repeated and mixed-case headers, cookies, colons and encoding in the path",
			raw:  func(t *testing.T) []byte { return readEvent(t, "rest-request-edge.json") },
			kind: KindREST,
			check: func(t *testing.T, r Request) {
				sameScalars(t, r, Request{Kind: KindREST, Method: "GET", Path: "/orders/urn:acme:42/items%2F7", RawPath: "/orders/urn:acme:42/items%2F7",
					Route: "/orders/{id}/{item}", RouteKey: "GET /orders/{id}/{item}", SourceIP: "203.0.113.9",
					UserAgent: "curl/8.5", APIID: "abc123", Stage: "prod", AccountID: "123456789012", Region: "eu-west-1",
					DomainName: "abc123.execute-api.eu-west-1.amazonaws.com", RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
					TimeMS: 1795255200000, MethodARN: "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/urn:acme:42/items%2F7"})
				// "X-Trace" sorts before "x-trace": the values join in that order.
				equal(t, "headers[x-trace]", r.Headers["x-trace"], "a,b,c")
				equal(t, "query", r.Query, map[string]string{"tag": "red,blue", "Limit": "10"})
				equal(t, "cookies", r.Cookies, map[string]string{"session": "abc,def", "theme": "dark"})
				equal(t, "path_params", r.PathParams, map[string]string{"id": "urn:acme:42", "item": "items%2F7"})
				equal(t, "stage_variables", r.StageVariables, map[string]string{})
			},
		},
		{
			name: "HTTP 2.0 with a route, cookies and joined values",
			raw:  func(t *testing.T) []byte { return readEvent(t, "http-v2-route.json") },
			kind: KindHTTP, version: "2.0",
			check: func(t *testing.T, r Request) {
				sameScalars(t, r, Request{Kind: KindHTTP, Method: "DELETE", Path: "/orders/42", RawPath: "/prod/orders/42", Route: "/orders/{id}",
					RouteKey: "DELETE /orders/{id}", SourceIP: "198.51.100.7", UserAgent: "curl/8.5", APIID: "h77api",
					Stage: "prod", AccountID: "123456789012", Region: "eu-west-1", DomainName: "h77api.execute-api.eu-west-1.amazonaws.com",
					RequestID: "JKJaXmPLvHcESHA=", TimeMS: 1795255200000,
					MethodARN: "arn:aws:execute-api:eu-west-1:123456789012:h77api/prod/DELETE/orders/42"})
				equal(t, "cookies", r.Cookies, map[string]string{"session": "abc", "theme": "dark"})
				equal(t, "query", r.Query, map[string]string{"force": "true,yes"})
				equal(t, "headers[x-multi]", r.Headers["x-multi"], "a,b")
			},
		},
		{
			name: "TOKEN on the root of another partition",
			raw:  func(t *testing.T) []byte { return readEvent(t, "token-root.json") },
			kind: KindToken, token: "Bearer header.payload.signature",
			check: func(t *testing.T, r Request) {
				sameScalars(t, r, Request{Kind: KindToken, Method: "GET", Path: "/", APIID: "tok123", Stage: "v1",
					AccountID: "123456789012", Region: "cn-north-1", MethodARN: "arn:aws-cn:execute-api:cn-north-1:123456789012:tok123/v1/GET/"})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.raw(t))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.Kind != tt.kind || ev.PayloadVersion != tt.version {
				t.Fatalf("kind %q version %q, want %q %q", ev.Kind, ev.PayloadVersion, tt.kind, tt.version)
			}
			if ev.AuthorizationToken != tt.token {
				t.Fatalf("AuthorizationToken = %q, want %q", ev.AuthorizationToken, tt.token)
			}
			if ev.ARN.String() != ev.Request.MethodARN {
				t.Fatalf("ARN %q and method_arn %q differ", ev.ARN.String(), ev.Request.MethodARN)
			}
			for name, m := range map[string]map[string]string{"headers": ev.Request.Headers, "query": ev.Request.Query,
				"path_params": ev.Request.PathParams, "stage_variables": ev.Request.StageVariables, "cookies": ev.Request.Cookies} {
				if m == nil {
					t.Errorf("%s is nil; the contract wants an object", name)
				}
			}
			tt.check(t, ev.Request)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		wantKind Kind // the kind still known, so the caller denies in the right format
		wantErr  string
	}{
		{"not JSON", `{"type":`, "", "unexpected end of JSON input"},
		{"not an object", `[1,2]`, "", "cannot unmarshal array"},
		{"unknown type", `{"type":"COOKIE","methodArn":"arn:aws:execute-api:r:1:a/s/GET/"}`, "", `type "COOKIE"`},
		{"no type", `{"methodArn":"arn:aws:execute-api:r:1:a/s/GET/"}`, "", `type ""`},
		{"unknown payload version", `{"type":"REQUEST","version":"3.0"}`, "", `payload version "3.0"`},
		{"REST without ARN", `{"type":"REQUEST","httpMethod":"GET"}`, KindREST, "no method ARN"},
		{"TOKEN with a bad ARN", `{"type":"TOKEN","authorizationToken":"x","methodArn":"arn:aws:s3:::bucket"}`, KindToken, "not an execute-api ARN"},
		{"HTTP 2.0 without routeArn", `{"type":"REQUEST","version":"2.0","methodArn":"arn:aws:execute-api:r:1:a/s/GET/"}`, KindHTTP, "no method ARN"},
		{"HTTP 2.0 with a wrongly typed field", `{"type":"REQUEST","version":"2.0","headers":{"a":1}}`, KindHTTP, "cannot unmarshal"},
		{"WebSocket without ARN", `{"type":"REQUEST","requestContext":{"eventType":"CONNECT"}}`, KindWebSocket, "no method ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.raw))
			if err == nil || !errors.Is(err, ErrEvent) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Decode error = %v, want ErrEvent containing %q", err, tt.wantErr)
			}
			var kind Kind
			if ev != nil {
				kind = ev.Kind
			}
			if kind != tt.wantKind {
				t.Fatalf("kind after error = %q, want %q", kind, tt.wantKind)
			}
		})
	}
}

func TestDecodeKindCannotBeForgedByThePath(t *testing.T) {
	// A REST request whose path ends in /$connect is still a REST request.
	ev, err := Decode([]byte(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:r:1:api/prod/POST/orders/42/$connect",
		"path":"/orders/42/$connect","httpMethod":"POST","requestContext":{"httpMethod":"POST"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindREST || ev.Request.Method != "POST" || ev.Request.Path != "/orders/42/$connect" {
		t.Fatalf("decoded as %s %q %q", ev.Kind, ev.Request.Method, ev.Request.Path)
	}
}

// TestMethodComesFromTheARN: the policy must judge the verb the IAM policy is
// enforced on. An event whose own method disagrees with its ARN is decided by
// the ARN; only a route-key ARN leaves the method to the event.
func TestMethodComesFromTheARN(t *testing.T) {
	const arn = "arn:aws:execute-api:r:1:api/prod/"
	tests := []struct{ name, event, want string }{
		{"REST", `{"type":"REQUEST","methodArn":"` + arn + `DELETE/orders/1","path":"/orders/1","httpMethod":"GET","requestContext":{"httpMethod":"GET"}}`, "DELETE"},
		{"REST, context only", `{"type":"REQUEST","methodArn":"` + arn + `DELETE/orders/1","requestContext":{"httpMethod":"GET"}}`, "DELETE"},
		{"HTTP 1.0", `{"type":"REQUEST","version":"1.0","methodArn":"` + arn + `PUT/orders/1","httpMethod":"GET"}`, "PUT"},
		{"HTTP 2.0", `{"type":"REQUEST","version":"2.0","routeArn":"` + arn + `DELETE/orders/1","requestContext":{"http":{"method":"GET"}}}`, "DELETE"},
		{"HTTP 2.0, route-key ARN", `{"type":"REQUEST","version":"2.0","routeArn":"` + arn + `$default","requestContext":{"http":{"method":"PATCH"}}}`, "PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Request.Method != tt.want || ev.ARN.Method != "" && ev.Request.Method != ev.ARN.Method {
				t.Fatalf("method %q, ARN %q; want %q", ev.Request.Method, ev.ARN.Method, tt.want)
			}
			if ev.Request.Route != "" && !strings.HasPrefix(ev.Request.RouteKey, tt.want+" ") && ev.Request.RouteKey != "$default" {
				t.Fatalf("route key %q does not start with %s", ev.Request.RouteKey, tt.want)
			}
		})
	}
}

func TestDecodeSeveralCookieHeaders(t *testing.T) {
	ev, err := Decode([]byte(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:r:1:api/prod/GET/x","path":"/x","httpMethod":"GET",
		"headers":{"cookie":"id_token=a.b.c"},"multiValueHeaders":{"cookie":["theme=dark","id_token=a.b.c"],"Cookie":["lang=en"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"theme": "dark", "id_token": "a.b.c", "lang": "en"}
	if !reflect.DeepEqual(ev.Request.Cookies, want) {
		t.Fatalf("cookies %v, want %v", ev.Request.Cookies, want)
	}
	if h := ev.Request.Headers["cookie"]; h != "lang=en; theme=dark; id_token=a.b.c" {
		t.Fatalf("cookie header %q", h)
	}
}

func TestRequestDocumentHasEveryContractField(t *testing.T) {
	// The contract's input.request fields (section 3), plus raw_path and connection_id.
	want := []string{"kind", "method", "path", "raw_path", "route", "route_key", "headers", "query", "path_params",
		"stage_variables", "cookies", "source_ip", "user_agent", "api_id", "stage", "account_id", "region",
		"domain_name", "request_id", "time_ms", "method_arn", "connection_id"}
	ev, err := Decode(readEvent(t, "rest-request-edge.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc := ev.Request.Document()
	if len(doc) != len(want) {
		t.Errorf("document has %d fields, want %d", len(doc), len(want))
	}
	for _, k := range want {
		if _, ok := doc[k]; !ok {
			t.Errorf("document lacks %q", k)
		}
	}
}

// sameScalars compares every non-map field of two requests.
func sameScalars(t *testing.T, got, want Request) {
	t.Helper()
	got.Headers, got.Query, got.PathParams, got.StageVariables, got.Cookies = nil, nil, nil, nil, nil
	want.Headers, want.Query, want.PathParams, want.StageVariables, want.Cookies = nil, nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("request\n got %+v\nwant %+v", got, want)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}
