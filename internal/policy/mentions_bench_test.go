package policy

import (
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// BenchmarkMentionsAtLoad measures the walk every load makes for the local
// tools' probes (Engine.Mentions), on a bundle whose data binds 10,000 groups.
func BenchmarkMentionsAtLoad(b *testing.B) {
	bd, err := ReadDirs([]string{"../../rego", "../../bundles/default"})
	if err != nil {
		b.Fatal(err)
	}
	groups := map[string]any{}
	for i := range 10000 {
		groups[fmt.Sprintf("group-%d", i)] = []any{"reader", fmt.Sprintf("/tenants/t%d/*", i)}
	}
	big := *bd
	big.Data = map[string]any{"rbac": map[string]any{"bindings": map[string]any{"groups": groups}}}
	for _, c := range []struct {
		name string
		b    *bundle.Bundle
	}{{"default", bd}, {"10k-groups", &big}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = mentionsOf(c.b)
			}
		})
	}
}
