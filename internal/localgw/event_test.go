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
