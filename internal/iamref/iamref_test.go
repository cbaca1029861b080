package iamref

import "testing"

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"arn:*/GET/orders/*", "arn:x/GET/orders/1/items", true},
		{"/a/?", "/a/é", true},
		{"/a/??", "/a/é", false},
		{"*", "a\nb", true},
		{"/x[1]", "/x1", false},
		{"/x[1]", "/x[1]", true},
		{"a.c", "abc", false},
		{"", "", true},
		{"a/*", "a/b/c", true}, {"a/*/c", "a/b/d/c", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"a/*", "b/a/x", false}, {"*", "", true}, {"x+y", "x+y", true},
	}
	for _, tt := range tests {
		if got := Pattern(tt.pattern).MatchString(tt.s); got != tt.want {
			t.Errorf("Pattern(%q) on %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
