package gateway

import (
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"a/*", "a/b/c", true},      // '*' crosses '/'
		{"a/*/c", "a/b/x/c", true},  // ... in the middle too
		{"a/*/c", "a/b/x/d", false}, //
		{"a?c", "abc", true},        // '?' is one character
		{"a?c", "ac", false},        //
		{"a?c", "abbc", false},      //
		{"*b*b*", "abxbx", true},    // backtracking
		{"*b*b*", "abxax", false},   //
		{"GET/orders", "GET/orders/", false},
		{"GET/orders/*", "GET/orders/", true},
		{"GET/orders/*", "GET/orders", false},
		{"a**b", "ab", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestWildcardMatchHostileInputIsFast(t *testing.T) {
	// Exponential matchers take years on this; the loop takes microseconds. The
	// test asserts only the answer; its speed is what lets it finish at all.
	pattern := strings.Repeat("*a", 30) + "b"
	s := strings.Repeat("a", 5000)
	if wildcardMatch(pattern, s) {
		t.Fatal("matched a string without the final b")
	}
}

func TestAllows(t *testing.T) {
	const arn = "arn:aws:execute-api:eu-west-1:1:api/prod/GET/orders/42"
	st := func(effect string, actions []string, resources ...string) events.IAMPolicyStatement {
		return events.IAMPolicyStatement{Effect: effect, Action: actions, Resource: resources}
	}
	invoke := []string{"execute-api:Invoke"}
	tests := []struct {
		name string
		doc  []events.IAMPolicyStatement
		want bool
	}{
		{"no statements is an implicit deny", nil, false},
		{"exact allow", []events.IAMPolicyStatement{st("Allow", invoke, arn)}, true},
		{"wildcard allow", []events.IAMPolicyStatement{st("Allow", invoke, "arn:aws:execute-api:eu-west-1:1:api/prod/*/orders/*")}, true},
		{"allow of another path", []events.IAMPolicyStatement{st("Allow", invoke, "arn:aws:execute-api:eu-west-1:1:api/prod/GET/users/*")}, false},
		{"explicit deny wins", []events.IAMPolicyStatement{st("Allow", invoke, "*"), st("Deny", invoke, arn)}, false},
		{"deny first still wins", []events.IAMPolicyStatement{st("Deny", invoke, "*"), st("Allow", invoke, arn)}, false},
		{"deny of another path leaves the allow", []events.IAMPolicyStatement{st("Allow", invoke, "*"), st("Deny", invoke, "arn:aws:execute-api:eu-west-1:1:api/prod/GET/users")}, true},
		{"action wildcard", []events.IAMPolicyStatement{st("Allow", []string{"execute-api:*"}, arn)}, true},
		{"action case-insensitive", []events.IAMPolicyStatement{st("Allow", []string{"Execute-API:invoke"}, arn)}, true},
		{"other action", []events.IAMPolicyStatement{st("Allow", []string{"execute-api:ManageConnections"}, arn)}, false},
		{"unknown effect", []events.IAMPolicyStatement{st("allow", invoke, arn)}, false},
		{"resources are case-sensitive", []events.IAMPolicyStatement{st("Allow", invoke, strings.ToUpper(arn))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Allows(policy(tt.doc...), arn); got != tt.want {
				t.Fatalf("Allows = %v, want %v", got, tt.want)
			}
		})
	}
}
