package decision

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestResponseChanges(t *testing.T) {
	base := func() *Decision {
		return &Decision{Allow: true, PrincipalID: "alice", Grants: []Grant{{"GET", "/a"}, {"*", "/b"}},
			Context: map[string]any{"n": json.Number("1"), "roles": []any{"admin"}}, Reasons: []string{"x"}, Code: "role_grant"}
	}
	tests := []struct {
		name   string
		change func(d *Decision)
		want   []string
	}{
		{"the same", func(*Decision) {}, nil},
		{"reasons and code only", func(d *Decision) { d.Reasons, d.Code = []string{"y"}, "other" }, nil},
		{"a number written otherwise", func(d *Decision) { d.Context["n"] = 1.0 }, nil},
		{"a number of another value", func(d *Decision) { d.Context["n"] = json.Number("1.5") }, []string{"context"}},
		{"principal", func(d *Decision) { d.PrincipalID = "bob" }, []string{"principal_id"}},
		{"a grant fewer", func(d *Decision) { d.Grants = d.Grants[:1] }, []string{"grants"}},
		{"a list in the context", func(d *Decision) { d.Context["roles"] = []any{"admin", "reader"} }, []string{"context"}},
		{"usage key", func(d *Decision) { d.UsageIdentifierKey = "k" }, []string{"usage_identifier_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := base()
			tt.change(b)
			if got := ResponseChanges(base(), b); !slices.Equal(got, tt.want) {
				t.Fatalf("changes %v, want %v", got, tt.want)
			}
		})
	}
	if got := ResponseChanges(&Decision{}, &Decision{Context: map[string]any{}}); got != nil {
		t.Fatalf("no context and an empty one differ: %v", got)
	}
}
