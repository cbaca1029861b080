package localgw

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/apigw-authz/authz/internal/gateway"
)

func TestTemplateParams(t *testing.T) {
	tests := []struct {
		template, path string
		want           map[string]any // nil: the template does not take the path
	}{
		{"/orders/{id}", "/orders/42", map[string]any{"id": "42"}},
		{"/orders/{id}", "/orders/42/x", nil},
		{"/orders/{id}", "/orders/", nil},
		{"/orders/{id}", "/orders", nil},
		{"/{proxy+}", "/orders/42/x", map[string]any{"proxy": "orders/42/x"}},
		{"/{proxy+}", "/", nil},
		{"/files/{path+}", "/files", nil},
		{"/orders", "/orders", map[string]any{}},
		{"/", "/", map[string]any{}},
		{"$default", "/orders", nil},
		{"", "/orders", nil},
	}
	for _, tt := range tests {
		got, ok := templateParams(tt.template, tt.path)
		if ok != (tt.want != nil) || !maps.Equal(got, tt.want) {
			t.Errorf("templateParams(%q, %q) = %v, %v; want %v", tt.template, tt.path, got, ok, tt.want)
		}
	}
}

func TestSamplePaths(t *testing.T) {
	got := samplePaths([]string{"/admin", "/invoices/", "/orders/*", "/tenants/{tenant}/users", "/a b", "/%s/x", "/a/../b", "/a//b", "/"})
	want := []string{"/admin", "/invoices/", "/invoices/x", "/orders/x", "/tenants/x/users", "/"}
	if !slices.Equal(got, want) {
		t.Fatalf("samplePaths = %q, want %q", got, want)
	}
}

// However many paths a policy names, at most maxPathProbes of them are replayed.
func TestOtherRoutesBoundsThePathsOfThePolicy(t *testing.T) {
	var many []string
	for i := range 3 * maxPathProbes {
		many = append(many, fmt.Sprintf("/p%d", i))
	}
	ev := &gateway.Event{Kind: gateway.KindREST, Request: gateway.Request{Method: "GET", Path: "/a", Route: "/a"}}
	without, with := otherRoutes(ev, nil, nil), otherRoutes(ev, nil, many)
	if len(with)-len(without) != maxPathProbes {
		t.Fatalf("%d requests for the policy's paths, want %d", len(with)-len(without), maxPathProbes)
	}
}
