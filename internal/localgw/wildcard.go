package localgw

import (
	"fmt"
	"strings"

	"github.com/apigw-authz/authz/internal/decision"
)

// WildcardWarnings names the grants whose '*' can cross a '/' the author
// probably did not mean it to. API Gateway's IAM has no one-segment wildcard:
// '*' matches any run of characters, '/' included, so GET /tenants/*/invoices
// also covers GET /tenants/acme/users/invoices. A '*' followed, before the next
// '*', by text holding a '/' (/a/*/b, /a/*/, */admin) is taken to stand for one
// segment; a '*' at the end of a pattern (/orders/*), or followed by text
// without a '/' (/files/*.pdf), is left alone.
func WildcardWarnings(grants []decision.Grant) []string {
	var out []string
	for _, g := range grants {
		if strings.HasPrefix(g.Path, "$") {
			continue // a WebSocket route key
		}
		example, ok := crossingExample(g.Path)
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf("grant %s %s: its '*' also matches '/' (API Gateway has no one-segment wildcard), so it also covers %s %s; grant the literal paths, or write the pattern so that '*' ends it",
			g.Method, g.Path, g.Method, example))
	}
	return out
}

// crossingExample returns a path pattern matches with its first
// segment-crossing '*' standing for two segments, and whether it has one.
func crossingExample(pattern string) (string, bool) {
	var b strings.Builder
	crossed := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			rest := pattern[i+1:]
			if j := strings.IndexByte(rest, '*'); j >= 0 {
				rest = rest[:j]
			}
			if !crossed && strings.Contains(rest, "/") {
				crossed = true
				b.WriteString("x/y")
			} else {
				b.WriteString("x")
			}
		case '?':
			b.WriteByte('x')
		default:
			b.WriteByte(c)
		}
	}
	example := b.String()
	if !strings.HasPrefix(example, "/") {
		example = "/" + example
	}
	return example, crossed
}
