package localgw

import (
	"net/http"
	"testing"

	"github.com/apigw-authz/authz/internal/gateway"
)

// Every event the local gateway builds must decode, as API Gateway's would, into
// the same request.
func TestEventsDecode(t *testing.T) {
	h := http.Header{}
	h.Add("Authorization", "Bearer a.b.c")
	h.Add("X-Trace", "1")
	h.Add("X-Trace", "2")
	h.Add("Cookie", "theme=dark; lang=en")
	h.Add("User-Agent", "curl/8")
	for _, tt := range []struct {
		kind, version, method, path string
		wantKind                    gateway.Kind
	}{
		{"rest", "", "GET", "/orders/42", gateway.KindREST},
		{"token", "", "GET", "/orders/42", gateway.KindToken},
		{"http", "2.0", "GET", "/orders/42", gateway.KindHTTP},
		{"http1", "1.0", "GET", "/orders/42", gateway.KindHTTP},
		{"websocket", "", "", "$connect", gateway.KindWebSocket},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			raw, err := Event(Request{Kind: tt.kind, Method: "get", Path: "/orders/42?tag=a&tag=b", Headers: h, Route: "/orders/{id}"}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := gateway.Decode(raw)
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			r := ev.Request
			if ev.Kind != tt.wantKind || ev.PayloadVersion != tt.version || r.Method != tt.method || r.Path != tt.path {
				t.Fatalf("decoded %s %s %s %s, want %s %s %s %s", ev.Kind, ev.PayloadVersion, r.Method, r.Path, tt.wantKind, tt.version, tt.method, tt.path)
			}
			if r.Region != DefaultAPI.Region || r.APIID != DefaultAPI.ID || r.Stage != DefaultAPI.Stage {
				t.Fatalf("API fields %+v", r)
			}
			if tt.kind == "token" {
				if ev.AuthorizationToken != "Bearer a.b.c" {
					t.Fatalf("authorizationToken %q", ev.AuthorizationToken)
				}
				return
			}
			if r.Headers["authorization"] != "Bearer a.b.c" || r.Headers["x-trace"] != "1,2" {
				t.Fatalf("headers %v", r.Headers)
			}
			if r.Query["tag"] != "a,b" || r.Cookies["theme"] != "dark" || r.Cookies["lang"] != "en" {
				t.Fatalf("query %v cookies %v", r.Query, r.Cookies)
			}
		})
	}
	if _, err := Event(Request{Kind: "grpc", Path: "/"}, DefaultAPI); err == nil {
		t.Fatal("an unknown kind was accepted")
	}
	if _, err := Event(Request{Kind: "rest", Path: "orders"}, DefaultAPI); err == nil {
		t.Fatal("a relative path was accepted")
	}
}

// TestEventsCarryTheRoute: the route a request matched reaches the policy as
// API Gateway sends it, in each kind that has one: the template as resource and
// resourcePath (REST, HTTP 1.0) or in routeKey (HTTP 2.0, where ANY and
// $default stay in the key), and the path parameters, which an HTTP API
// decodes and a REST API passes as the path spells them.
func TestEventsCarryTheRoute(t *testing.T) {
	params := map[string]string{"id": "7", "name": "a%20b"}
	tests := []struct {
		kind, method, route, key string
		wantRoute, wantKey       string
		wantName                 string
	}{
		{"rest", "GET", "/orders/{id}/{name}", "", "/orders/{id}/{name}", "GET /orders/{id}/{name}", "a%20b"},
		{"rest", "DELETE", "/orders/{id}/{name}", "ANY /orders/{id}/{name}", "/orders/{id}/{name}", "DELETE /orders/{id}/{name}", "a%20b"},
		{"http1", "GET", "/orders/{id}/{name}", "", "/orders/{id}/{name}", "GET /orders/{id}/{name}", "a%20b"},
		{"http", "GET", "/orders/{id}/{name}", "", "/orders/{id}/{name}", "GET /orders/{id}/{name}", "a b"},
		{"http", "DELETE", "/orders/{id}/{name}", "ANY /orders/{id}/{name}", "/orders/{id}/{name}", "ANY /orders/{id}/{name}", "a b"},
		{"http", "GET", "$default", "$default", "$default", "$default", ""},
	}
	for _, tt := range tests {
		p := params
		if tt.route == "$default" {
			p = nil
		}
		raw, err := Event(Request{Kind: tt.kind, Method: tt.method, Path: "/orders/7/a%20b", Route: tt.route, RouteKey: tt.key, PathParams: p}, DefaultAPI)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := gateway.Decode(raw)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		r := ev.Request
		if r.Route != tt.wantRoute || r.RouteKey != tt.wantKey || r.PathParams["name"] != tt.wantName || r.Path != "/orders/7/a%20b" {
			t.Errorf("%s %s %q: route %q, key %q, path %q, params %v; want %q, %q, name %q",
				tt.kind, tt.method, tt.key, r.Route, r.RouteKey, r.Path, r.PathParams, tt.wantRoute, tt.wantKey, tt.wantName)
		}
	}
}
