package localgw

import (
	"net/http"
	"testing"

	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
)

// A token put into any kind of event is found where the authorizer looks for it.
func TestWithToken(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer old")
	h.Set("Cookie", "theme=dark")
	for _, kind := range Kinds {
		for _, sources := range []string{"header:authorization", "header:x-id-token", "cookie:id_token", "query:access_token"} {
			src, err := identity.ParseSources(sources)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "token" && sources != "header:authorization" {
				continue // a TOKEN event has only authorizationToken
			}
			raw, err := Event(Request{Kind: kind, Method: "GET", Path: "/x", Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			raw, err = WithToken(raw, src, "new.token.value")
			if err != nil {
				t.Fatal(err)
			}
			ev, err := gateway.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if ev.Kind == gateway.KindToken {
				got, err = identity.FromAuthorization(ev.AuthorizationToken)
			} else {
				got, err = src.Take(ev.Request.Headers, ev.Request.Cookies, ev.Request.Query)
			}
			if err != nil || got != "new.token.value" {
				t.Errorf("%s, %s: took %q, %v", kind, sources, got, err)
			}
		}
	}
}
