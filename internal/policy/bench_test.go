package policy

import (
	"context"
	"testing"
)

// BenchmarkDecideDefault measures one evaluation of the embedded default policy,
// input conversion and decision validation included. Run:
//
//	go test -run '^$' -bench . -benchmem ./internal/policy
func BenchmarkDecideDefault(b *testing.B) {
	e, err := Load(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	input := rest("GET", "/orders/42")
	input["token"] = map[string]any{"subject": "u1", "groups": []string{"orders-readers"}, "roles": []string{}, "scopes": []string{}, "tenant": "acme", "claims": map[string]any{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(context.Background(), input); err != nil {
			b.Fatal(err)
		}
	}
}
