// Package iamref is the reference reading of IAM's wildcard patterns, for tests
// to judge the product's matchers by: the gateway's IAM matcher, the Rego lib's
// glob matching, and what the end-to-end tests say API Gateway would let
// through. It is built on regular expressions, independently of both matchers,
// so that a mistake shared by them shows as a disagreement with it.
//
// It is for tests only: the product must never decide with it.
package iamref

import (
	"regexp"
	"strings"
)

// Pattern reads an IAM pattern as an anchored regular expression: '*' is any
// run of characters ('/' and newlines included), '?' any one character, and
// every other character itself.
func Pattern(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}
