package decision

import (
	"encoding/json"
	"math/big"
	"slices"
)

// ResponseChanges names the fields, besides allow, in which the responses
// two decisions give API Gateway differ: "principal_id", "grants",
// "context", "usage_identifier_key". Grants are compared as sets (Parse
// sorts them and drops repeats); context values as Rego compares them,
// numbers by value, an absent context as an empty one. Reasons and code
// are not part of a response. The principal IDs are compared as given: a
// caller whose principal defaults (to the token's subject) fills it first.
func ResponseChanges(a, b *Decision) []string {
	var out []string
	if a.PrincipalID != b.PrincipalID {
		out = append(out, "principal_id")
	}
	if !slices.Equal(a.Grants, b.Grants) {
		out = append(out, "grants")
	}
	if !sameValue(a.Context, b.Context) {
		out = append(out, "context")
	}
	if a.UsageIdentifierKey != b.UsageIdentifierKey {
		out = append(out, "usage_identifier_key")
	}
	return out
}

// sameValue compares two JSON values: numbers by value, whatever their Go
// type; an absent object as an empty one.
func sameValue(a, b any) bool {
	if na, ok := number(a); ok {
		nb, ok := number(b)
		return ok && na.Cmp(nb) == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok && b != nil {
			return false
		}
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case nil:
		if m, ok := b.(map[string]any); ok {
			return len(m) == 0
		}
		return b == nil
	}
	return a == b
}

// number reads a JSON number, as encoding/json or OPA gives it.
func number(v any) (*big.Float, bool) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = string(n)
	case float64:
		return big.NewFloat(n), true
	case int:
		return new(big.Float).SetInt64(int64(n)), true
	case int64:
		return new(big.Float).SetInt64(n), true
	default:
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 10, 256, big.ToNearestEven)
	return f, err == nil
}
