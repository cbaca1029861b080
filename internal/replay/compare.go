package replay

import (
	"cmp"
	"strings"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/policy"
)

// Classes of an outcome besides "error:<reason>".
const (
	ClassAllow = "allow"
	ClassDeny  = "deny"
)

// errorClass is the class of a decision that failed for reason.
func errorClass(reason string) string {
	if reason == "" {
		reason = "unknown"
	}
	return "error:" + reason
}

// Outcome is one side of a comparison: what the logged policy or the
// candidate decided.
type Outcome struct {
	// Class is allow, deny, or error:<reason> (error:policy_error,
	// error:decision_invalid, ...).
	Class string `json:"class"`
	// Reasons and Code are the decision's, for the reader: they change no
	// response, so they make no change by themselves.
	Reasons []string `json:"reasons,omitempty"`
	Code    string   `json:"code,omitempty"`
	// Error says why the decision failed.
	Error string `json:"error,omitempty"`
	// Response is what the decision sends API Gateway, besides allow.
	Response *Response `json:"response,omitempty"`
}

// Response is the part of a decision that API Gateway receives, besides allow.
type Response struct {
	// PrincipalID is the principal API Gateway receives: the decision's,
	// else the token's subject, else its client id, else anonymous.
	PrincipalID string           `json:"principal_id,omitempty"`
	Grants      []decision.Grant `json:"grants,omitempty"`
	Context     map[string]any   `json:"context,omitempty"`
	// UsageIdentifierKey is an API key: compared, never written out.
	UsageIdentifierKey string `json:"-"`
}

func outcomeOf(d *decision.Decision, input map[string]any) Outcome {
	class := ClassDeny
	if d.Allow {
		class = ClassAllow
	}
	token, _ := input["token"].(map[string]any)
	str := func(k string) string { s, _ := token[k].(string); return s }
	return Outcome{Class: class, Reasons: d.Reasons, Code: d.Code, Response: &Response{
		PrincipalID: cmp.Or(d.PrincipalID, str("subject"), str("client_id"), "anonymous"),
		Grants:      d.Grants, Context: d.Context, UsageIdentifierKey: d.UsageIdentifierKey,
	}}
}

// loggedOutcome classifies the decision an event logged: the result parsed
// as a decision document, error:<custom.reason> without a result, and
// error:decision_invalid for a result that is not a decision. What the mask
// rules erased or replaced in the result is taken out before the parse: a
// replacement need not follow the decision's schema (a code of "***").
func loggedOutcome(ev *Event, input map[string]any, mask resultMask) Outcome {
	if len(ev.Result) == 0 {
		return Outcome{Class: errorClass(ev.custom("reason")), Code: ev.custom("code"), Error: ev.custom("error")}
	}
	var v any
	if err := decodeJSON(ev.Result, &v); err != nil {
		return Outcome{Class: errorClass(policy.ReasonInvalid), Error: err.Error()}
	}
	if obj, ok := v.(map[string]any); ok {
		v = without(obj, mask.paths)
	}
	d, err := decision.Parse(v)
	if err != nil {
		return Outcome{Class: errorClass(policy.ReasonInvalid), Error: err.Error()}
	}
	return outcomeOf(d, input)
}

// candidateOutcome classifies what the candidate decided.
func candidateOutcome(d *decision.Decision, err error, input map[string]any) Outcome {
	if err != nil {
		return Outcome{Class: errorClass(policy.ReasonOf(err)), Error: err.Error()}
	}
	return outcomeOf(d, input)
}

// resultMask says which parts of the logged result the mask rules erased or
// replaced: those parts are not compared, on either side.
type resultMask struct {
	principalID, grants, context, usageKey bool
	// contextKeys are paths into the context (through objects) masked there.
	contextKeys [][]string
	// paths are all the masked paths of the result, from its top.
	paths [][]string
}

// maskOf reads the pointers into /result. allowMasked says that the logged
// allow, or the whole result, is masked: then the logged class is unknown.
func maskOf(pointers []string) (m resultMask, allowMasked bool) {
	for _, p := range pointers {
		seg, ok := splitPointer(p)
		if !ok || len(seg) == 0 || seg[0] != "result" {
			continue
		}
		if len(seg) == 1 {
			return m, true
		}
		m.paths = append(m.paths, seg[1:])
		switch seg[1] {
		case "allow":
			allowMasked = true
		case "principal_id":
			m.principalID = true
		case "grants":
			m.grants = true // indexes do not survive the parse's sorting
		case "usage_identifier_key":
			m.usageKey = true
		case "context":
			if len(seg) == 2 {
				m.context = true
			} else {
				m.contextKeys = append(m.contextKeys, seg[2:])
			}
		}
	}
	return m, allowMasked
}

// changedFields compares two decisions with the same allow: the names of the
// response's fields that differ (decision.ResponseChanges), leaving out on
// both sides what the log masked.
func changedFields(logged, candidate *Response, mask resultMask) []string {
	return decision.ResponseChanges(mask.comparable(logged), mask.comparable(candidate))
}

// comparable is r as a decision, without what the log masked.
func (m resultMask) comparable(r *Response) *decision.Decision {
	d := &decision.Decision{PrincipalID: r.PrincipalID, Grants: r.Grants,
		Context: without(r.Context, m.contextKeys), UsageIdentifierKey: r.UsageIdentifierKey}
	if m.principalID {
		d.PrincipalID = ""
	}
	if m.grants {
		d.Grants = nil
	}
	if m.context {
		d.Context = nil
	}
	if m.usageKey {
		d.UsageIdentifierKey = ""
	}
	return d
}

// without returns a copy of obj without the values at paths (through
// objects only), or obj itself when there is nothing to take out.
func without(obj map[string]any, paths [][]string) map[string]any {
	if len(paths) == 0 || obj == nil {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	for _, path := range paths {
		var rest [][]string
		for _, p := range paths {
			if len(p) > 1 && p[0] == path[0] {
				rest = append(rest, p[1:])
			}
		}
		if len(path) == 1 {
			delete(out, path[0])
		} else if inner, ok := out[path[0]].(map[string]any); ok {
			out[path[0]] = without(inner, rest)
		} else {
			delete(out, path[0]) // masked inside an array: left out whole
		}
	}
	return out
}

// transition names a change: "deny → allow", or for the same class
// "allow → allow (grants changed)".
func transition(from, to string, fields []string) string {
	t := from + " → " + to
	if len(fields) > 0 {
		t += " (" + strings.Join(fields, ", ") + " changed)"
	}
	return t
}
