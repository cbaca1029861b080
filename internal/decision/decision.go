// Package decision holds the decision document of the contract (section 4): what a
// policy returns, and the rules a value must follow to be one. It is the shared
// language of the policy engine, which produces decisions, and the gateway adapter,
// which turns them into responses. It never grants anything itself: a value that
// breaks a rule is an error, and the caller denies.
package decision

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Decision is a validated decision document.
type Decision struct {
	// Allow is true only when the policy returned the boolean true.
	Allow bool
	// PrincipalID is the principal_id the policy chose, or "".
	PrincipalID string
	// Grants are everything this identity may call, for API Gateway's cache.
	// Nil when the policy returned none.
	Grants []Grant
	// Context holds the values for $context.authorizer.*, as the policy returned them.
	Context map[string]any
	// UsageIdentifierKey is the API key for usage plans, or "".
	UsageIdentifierKey string
	// Reasons explain the decision in the decision log, for people; never sent
	// to the client.
	Reasons []string
	// Code says in one word of lower snake case why the policy decided as it
	// did (no_grant, public_route, ...), or "". Unlike Reasons it is a metric
	// dimension and a log field to group by: a short word from a small set,
	// never free text with a path or a name in it. Never sent to the client.
	Code string
}

// codePattern is the form of a decision's code: lower snake case, at most 64
// bytes. Free text, which would multiply a metric's dimensions, does not fit it.
const codePattern = `^[a-z][a-z0-9_]{0,63}$`

var codeForm = regexp.MustCompile(codePattern)

// Grant is one method and path pattern. '*' matches any characters, '/' included,
// as it does in IAM.
type Grant struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// Methods are the verbs a grant may name, besides "*".
var methods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true,
}

// Error says why a value is not a decision document.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "decision: " + e.Reason
	}
	return fmt.Sprintf("decision: %s: %s", e.Field, e.Reason)
}

// Parse validates v, the value of the decision query, against the contract. A value
// that is not an object, lacks allow, or has a field of the wrong type is an error:
// "Anything but boolean true is a deny" is enforced by refusing anything that is
// not a boolean at all.
func Parse(v any) (*Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Reason: fmt.Sprintf("the decision is %s, not an object", typeName(v))}
	}
	d := &Decision{}
	allow, ok := obj["allow"]
	if !ok {
		return nil, &Error{Field: "allow", Reason: "missing"}
	}
	if d.Allow, ok = allow.(bool); !ok {
		return nil, &Error{Field: "allow", Reason: fmt.Sprintf("is %s, not a boolean", typeName(allow))}
	}
	var err error
	if d.PrincipalID, err = optionalString(obj, "principal_id"); err != nil {
		return nil, err
	}
	if d.UsageIdentifierKey, err = optionalString(obj, "usage_identifier_key"); err != nil {
		return nil, err
	}
	if d.Grants, err = parseGrants(obj["grants"]); err != nil {
		return nil, err
	}
	if c, ok := obj["context"]; ok && c != nil {
		if d.Context, ok = c.(map[string]any); !ok {
			return nil, &Error{Field: "context", Reason: fmt.Sprintf("is %s, not an object", typeName(c))}
		}
	}
	if d.Reasons, err = parseReasons(obj["reasons"]); err != nil {
		return nil, err
	}
	if d.Code, err = parseCode(obj); err != nil {
		return nil, err
	}
	return d, nil
}

func optionalString(obj map[string]any, field string) (string, error) {
	v, ok := obj[field]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &Error{Field: field, Reason: fmt.Sprintf("is %s, not a string", typeName(v))}
	}
	return s, nil
}

func parseGrants(v any) ([]Grant, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &Error{Field: "grants", Reason: fmt.Sprintf("is %s, not an array", typeName(v))}
	}
	grants := make([]Grant, 0, len(list))
	seen := make(map[Grant]bool, len(list))
	for i, item := range list {
		field := fmt.Sprintf("grants[%d]", i)
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, &Error{Field: field, Reason: fmt.Sprintf("is %s, not an object", typeName(item))}
		}
		method, ok := obj["method"].(string)
		if !ok {
			return nil, &Error{Field: field + ".method", Reason: "missing or not a string"}
		}
		path, ok := obj["path"].(string)
		if !ok {
			return nil, &Error{Field: field + ".path", Reason: "missing or not a string"}
		}
		method = strings.ToUpper(method)
		if method != "*" && !methods[method] {
			return nil, &Error{Field: field + ".method", Reason: fmt.Sprintf("%q is not an HTTP method or *", method)}
		}
		if err := checkPath(path); err != nil {
			return nil, &Error{Field: field + ".path", Reason: err.Error()}
		}
		g := Grant{Method: method, Path: path}
		if !seen[g] {
			seen[g] = true
			grants = append(grants, g)
		}
	}
	// A stable order keeps the IAM policy, and so the cache entry, the same for the
	// same decision whatever order the policy produced its set in.
	sort.Slice(grants, func(i, j int) bool {
		if grants[i].Path != grants[j].Path {
			return grants[i].Path < grants[j].Path
		}
		return grants[i].Method < grants[j].Method
	})
	return grants, nil
}

func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty")
	}
	if p[0] != '/' && p[0] != '*' && p[0] != '$' {
		return fmt.Errorf("%q must start with /, * or $ (a WebSocket route key)", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("contains a control character")
		}
	}
	return nil
}

func parseReasons(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &Error{Field: "reasons", Reason: fmt.Sprintf("is %s, not an array", typeName(v))}
	}
	reasons := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, &Error{Field: fmt.Sprintf("reasons[%d]", i), Reason: fmt.Sprintf("is %s, not a string", typeName(item))}
		}
		reasons = append(reasons, s)
	}
	return reasons, nil
}

// parseCode reads the optional code. One that does not have the form is refused,
// not cut or cleaned: it is a policy bug, and whatever it holds must not become
// a metric's dimension. The empty string is no code either.
func parseCode(obj map[string]any) (string, error) {
	code, err := optionalString(obj, "code")
	if err != nil {
		return "", err
	}
	if obj["code"] != nil && !codeForm.MatchString(code) {
		return "", &Error{Field: "code", Reason: fmt.Sprintf("%q is not lower snake case of at most 64 bytes (%s)", truncate(code, 80), codePattern)}
	}
	return code, nil
}

// truncate keeps an error message short when a policy put a long text where a
// short word belongs; it may cut a character in two, which %q shows as escapes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
