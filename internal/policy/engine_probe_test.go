package policy

import (
	"context"
	"slices"
	"testing"
	"time"
)

// DecideAt moves OPA's clock: time.now_ns reads the evaluation time given,
// so that a tool can ask what the policy would say at another moment.
func TestDecideAtMovesTheClock(t *testing.T) {
	e := load(t, Options{Bundle: writeBundle(t, map[string]string{"p.rego": `package authz

decision := {"allow": time.now_ns() == 1767225600000000000}
`})})
	at := time.Unix(1767225600, 0)
	d, err := e.DecideAt(context.Background(), rest("GET", "/"), at)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow {
		t.Fatal("time.now_ns() is not the evaluation time given")
	}
	if d, err := e.Decide(context.Background(), rest("GET", "/")); err != nil || d.Allow {
		t.Fatalf("Decide: %+v %v: the clock stayed moved", d, err)
	}
}

// Mentions lists the header, query and cookie names the policy reads with
// constant keys, wherever the reference is written (brackets, dots, imports,
// object.get), and the path-like strings of its modules and data.
func TestMentions(t *testing.T) {
	e := load(t, Options{Mentions: true, Bundle: writeBundle(t, map[string]string{
		"p.rego": `package authz

import input.request.cookies as jar

default allow := false

allow if not input.request.headers["x-impersonate"]

allow if input.request.query.debug == "1"

allow if jar.beta

allow if object.get(input.request.headers, "x-tier", "") == "gold"

allow if startswith(input.request.path, "/admin/")

allow if sprintf("%s %s", [input.request.method, input.request.path]) == "GET /x y"

decision := {"allow": allow, "grants": data.grants}
`,
		"data.json": `{"grants": [{"method": "GET", "path": "/orders/*"}, {"method": "*", "path": "$connect"}], "note": "/tenants/{tenant}/users"}`,
	})})
	m := e.Mentions()
	for _, tt := range []struct {
		what      string
		got, want []string
	}{
		{"headers", m.Headers, []string{"x-impersonate", "x-tier"}},
		{"query", m.Query, []string{"debug"}},
		{"cookies", m.Cookies, []string{"beta"}},
		{"paths", m.Paths, []string{"/admin/", "/orders/*", "/tenants/{tenant}/users"}},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s = %q, want %q", tt.what, tt.got, tt.want)
		}
	}
}
