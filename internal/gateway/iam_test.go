package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apigw-authz/authz/internal/iamref"
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
		{"", "", true},
		{"", "a", false},
		{"?", "", false},
		{"*?", "", false},
		{"*?", "a", true},
		// A '*' or '?' in the input is an ordinary character there, and a pattern
		// '*' facing it must still be able to take more than that one character.
		{"GET/orders/*", "GET/orders/*/items", true},
		{"GET/orders/*/items", "GET/orders/*/items", true},
		{"GET/orders/*/items", "GET/orders/*/x/items", true},
		{"GET/orders/*", "GET/orders/*", true},
		{"*/*", "*/*/*", true},
		{"a*", "a*b*c", true},
		{"*b", "*a*b", true},
		{"*b", "*a*", false},
		{"GET/orders/x", "GET/orders/*", false}, // a '*' in the input matches only itself
		{"a?", "a?x", false},
		{"a?*", "a?x", true},
		{"a?", "a*", true},
		{"a*", "a?/?", true},
		{"?/a", "?/b", false},
		// '?' is one character, not one byte, as in the Rego lib's glob.match.
		{"/a/??", "/a/é", false},
		{"/a/?", "/a/é", true},
		{"/a/?/b", "/a/日/b", true},
		{"/a/??/b", "/a/日/b", false},
		{"/?", "/😀", true},
		{"*é", "/aé", true},
		{"*?é", "/é", true},
		{"*??", "é", false},
		{"*?é", "/ééé", true},
		{"/é", "/e", false},
		{"/é*", "/é", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// FuzzWildcardMatch compares wildcardMatch with a regular expression built from
// the pattern, the reading of IAM's two wildcards that needs no matcher of its own.
func FuzzWildcardMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"GET/orders/*", "GET/orders/*/items"},
		{"*b*b*", "abxbx"},
		{"a?", "a*"},
		{"/a/??", "/a/é"},
		{"*?é", "/ééé"},
		{"/x[1]{a,b}", "/x[1]{a,b}"},
		{`/w\*`, `/w\zzz`},
		{"*$connect", "/a/$connect"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		// API Gateway events and policy documents are JSON, whose decoding
		// replaces invalid UTF-8: the matcher never sees it.
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			t.Skip("not UTF-8")
		}
		if got, want := wildcardMatch(pattern, s), iamref.Pattern(pattern).MatchString(s); got != want {
			t.Errorf("wildcardMatch(%q, %q) = %v, the regexp says %v", pattern, s, got, want)
		}
	})
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

// TestEvaluateARNWithWildcardCharacters checks requests whose ARN holds a literal
// '*' or '?': API Gateway sends them for paths such as /orders/*/items, and a
// pattern must cover them as it covers any other character, or an explicit Deny
// is missed and an Allow of the grants looks as if it did not cover the request.
func TestEvaluateARNWithWildcardCharacters(t *testing.T) {
	const base = "arn:aws:execute-api:eu-west-1:1:api/prod/"
	st := func(effect string, resources ...string) events.IAMPolicyStatement {
		return events.IAMPolicyStatement{Effect: effect, Action: []string{invokeAction}, Resource: resources}
	}
	tests := []struct {
		name string
		doc  []events.IAMPolicyStatement
		arn  string
		want string
	}{
		{"deny of a wildcard covers a literal * and what follows it",
			[]events.IAMPolicyStatement{st("Allow", base+"GET/*"), st("Deny", base+"GET/orders/*")}, base + "GET/orders/*/items", "Deny"},
		{"allow of a wildcard covers a literal *",
			[]events.IAMPolicyStatement{st("Allow", base+"GET/orders/*")}, base + "GET/orders/*/items", "Allow"},
		{"allow of a wildcard covers a literal ?",
			[]events.IAMPolicyStatement{st("Allow", base+"GET/orders/*")}, base + "GET/orders/?/items", "Allow"},
		{"a literal * in the ARN is no wildcard",
			[]events.IAMPolicyStatement{st("Allow", base+"GET/orders/1")}, base + "GET/orders/*", ""},
		{"deny of one multi-byte character by ?",
			[]events.IAMPolicyStatement{st("Allow", base+"GET/*"), st("Deny", base+"GET/caf?")}, base + "GET/café", "Deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(policy(tt.doc...), tt.arn); got != tt.want {
				t.Fatalf("Evaluate = %q, want %q", got, tt.want)
			}
		})
	}
}
