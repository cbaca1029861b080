package gateway

import (
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// invokeAction is the only action an authorizer's policy grants or denies.
const invokeAction = "execute-api:Invoke"

var lowerInvokeAction = strings.ToLower(invokeAction)

// Allows reports whether API Gateway would let a request on arn through under doc,
// with IAM's rules: a matching Deny statement wins over any Allow, and without a
// matching Allow the request is denied.
func Allows(doc events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	return Evaluate(doc, arn) == "Allow"
}

// Evaluate returns the effect doc has on arn: "Deny" when a Deny statement
// matches (an explicit deny), "Allow" when only Allow statements do, and ""
// when none does (an implicit deny).
func Evaluate(doc events.APIGatewayCustomAuthorizerPolicy, arn string) string {
	effect := ""
	for _, st := range doc.Statement {
		if !statementMatches(st, arn) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return "Deny"
		case "Allow":
			effect = "Allow"
		}
	}
	return effect
}

func statementMatches(st events.IAMPolicyStatement, arn string) bool {
	action := false
	for _, a := range st.Action {
		// Action names are case-insensitive in IAM; resources are not. The
		// action is nearly always written out, which needs no lower-casing.
		if strings.EqualFold(a, invokeAction) || wildcardMatch(strings.ToLower(a), lowerInvokeAction) {
			action = true
			break
		}
	}
	if !action {
		return false
	}
	for _, r := range st.Resource {
		if wildcardMatch(r, arn) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against an IAM pattern: '*' matches any run of
// characters ('/' and ':' included) and '?' exactly one character, not one byte,
// as the Rego lib's glob.match does. In s, '*' and '?' are ordinary characters:
// API Gateway puts them in an ARN when the request path has them.
//
// It is the classic greedy matcher: on a mismatch, the last '*' takes one more
// character and matching resumes after it. Only the last '*' needs remembering,
// because whatever an earlier one could take, the later one can take too. That
// keeps it O(len·len) at worst and without recursion, so a hostile ARN cannot
// make it slow.
func wildcardMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "?") && utf8.ValidString(pattern) {
		return starMatch(pattern, s)
	}
	p, i := 0, 0        // byte offsets of the next pattern and input characters
	star, mark := -1, 0 // the last '*' seen, and where in s its match ends now
	for i < len(s) {
		// The '*' case comes first: a pattern '*' facing an input '*' must be a
		// wildcard, or the backtrack point is lost and longer matches are missed.
		if p < len(pattern) && pattern[p] == '*' {
			star, mark = p, i
			p++
			continue
		}
		n := runeLen(s, i)
		if p < len(pattern) {
			pn := runeLen(pattern, p)
			if pattern[p] == '?' || pattern[p:p+pn] == s[i:i+n] {
				p += pn
				i += n
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark += runeLen(s, mark)
		p, i = star+1, mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// starMatch is wildcardMatch for a valid UTF-8 pattern without '?': the
// text before the first '*' must start s, the text after the last end it, and
// the texts between them follow in order, each matched where it first occurs
// (which leaves the most room for the rest). Byte offsets are safe: a valid
// UTF-8 text can only be found at a character boundary of s, and an invalid
// byte of s is a character of its own either way. Linear, with no allocation:
// every IAM response checks some thirty such patterns against its ARN.
func starMatch(pattern, s string) bool {
	first := strings.IndexByte(pattern, '*')
	if first < 0 {
		return pattern == s
	}
	last := strings.LastIndexByte(pattern, '*')
	head, tail := pattern[:first], pattern[last+1:]
	if len(s) < len(head)+len(tail) || !strings.HasPrefix(s, head) || !strings.HasSuffix(s, tail) {
		return false
	}
	rest := s[len(head) : len(s)-len(tail)]
	for middle := pattern[first+1 : last+1]; middle != ""; {
		star := strings.IndexByte(middle, '*')
		part := middle[:star]
		middle = middle[star+1:]
		if part == "" {
			continue
		}
		at := strings.Index(rest, part)
		if at < 0 {
			return false
		}
		rest = rest[at+len(part):]
	}
	return true
}

// View is what API Gateway takes from an authorizer's response: the principal,
// the $context.authorizer values, and a verdict for each ARN.
type View struct {
	PrincipalID string
	Context     map[string]any
	// Policy is the IAM policy; nil for an HTTP API simple response.
	Policy     *events.APIGatewayCustomAuthorizerPolicy
	authorized bool
}

// ViewOf reads a response the authorizer returns; false if it is none.
func ViewOf(resp any) (View, bool) {
	switch r := resp.(type) {
	case events.APIGatewayCustomAuthorizerResponse:
		return View{PrincipalID: r.PrincipalID, Context: r.Context, Policy: &r.PolicyDocument}, true
	case events.APIGatewayV2CustomAuthorizerIAMPolicyResponse:
		return View{PrincipalID: r.PrincipalID, Context: r.Context, Policy: &r.PolicyDocument}, true
	case events.APIGatewayV2CustomAuthorizerSimpleResponse:
		return View{Context: r.Context, authorized: r.IsAuthorized}, true
	}
	return View{}, false
}

// Effect is what API Gateway does with a request on arn: "Allow", "Deny" for an
// explicit deny, or "" for an implicit one. A simple response answers the same
// for every ARN.
func (v View) Effect(arn string) string {
	switch {
	case v.Policy != nil:
		return Evaluate(*v.Policy, arn)
	case v.authorized:
		return "Allow"
	}
	return ""
}

// runeLen is the length in bytes of the character at s[i:], without decoding
// it when it is ASCII, as ARNs nearly always are.
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}
