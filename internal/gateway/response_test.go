package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/decision"
)

var update = flag.Bool("update", false, "rewrite the golden response files")

func decode(t *testing.T, name string) *Event {
	t.Helper()
	ev, err := Decode(readEvent(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func decisionOf(t *testing.T, doc string) *decision.Decision {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	d, err := decision.Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestResponsesGolden compares every response shape with a golden file under
// testdata/responses. Run with -update to rewrite them after a deliberate change.
func TestResponsesGolden(t *testing.T) {
	const richContext = `{"tenant":"acme","roles":["admin","reader"],"limits":{"rpm":10},"n":3,"ok":true,"gone":null}`
	tests := []struct {
		name     string
		event    string
		simple   bool
		decision string
		respond  string // allow, deny, fail
	}{
		{"rest-allow-grants", "rest-request-edge.json", false,
			`{"allow":true,"grants":[{"method":"GET","path":"/orders/*"},{"method":"*","path":"/profile"}],"context":` + richContext + `,"usage_identifier_key":"key-1"}`, "allow"},
		{"rest-allow-no-grants", "rest-request-edge.json", false, `{"allow":true}`, "allow"},
		{"rest-deny-grants", "rest-request-edge.json", false,
			`{"allow":false,"grants":[{"method":"GET","path":"/profile"}],"context":{"tenant":"acme"}}`, "deny"},
		{"token-fail", "token-root.json", false, "", "fail"},
		{"http2-simple-allow", "http-v2-route.json", true, `{"allow":true,"context":` + richContext + `}`, "allow"},
		{"http2-simple-deny", "http-v2-route.json", true, `{"allow":false,"context":{"tenant":"acme"}}`, "deny"},
		{"http2-simple-fail", "http-v2-route.json", true, "", "fail"},
		{"http2-iam-allow", "http-v2-route.json", false,
			`{"allow":true,"grants":[{"method":"DELETE","path":"/orders/*"}],"context":` + richContext + `}`, "allow"},
		{"http2-iam-deny", "http-v2-route.json", false, `{"allow":false}`, "deny"},
		{"websocket-allow", "websocket-connect.json", false,
			`{"allow":true,"grants":[{"method":"*","path":"$connect"}],"context":{"roles":["chat"]},"usage_identifier_key":"ignored"}`, "allow"},
		{"websocket-fail", "websocket-connect.json", false, "", "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := decode(t, tt.event)
			// The edge event's path has an encoded slash: only a deployment that
			// lets ambiguous paths through answers it with a policy.
			r := Responder{SimpleResponses: tt.simple, AllowAmbiguousPaths: tt.event == "rest-request-edge.json"}
			var (
				got any
				err error
			)
			switch tt.respond {
			case "allow":
				got, err = r.Allow(ev, decisionOf(t, tt.decision), "user-1")
			case "deny":
				got, err = r.Deny(ev, decisionOf(t, tt.decision), "user-1")
			default:
				got = r.Fail(ev, "user-1")
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			path := filepath.Join("testdata", "responses", tt.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("response differs from %s:\n%s", path, b)
			}
		})
	}
}

// TestResponsesEnforce checks responses by what API Gateway would do with them,
// which is what matters, independently of the golden files' exact text.
func TestResponsesEnforce(t *testing.T) {
	ev := decode(t, "rest-request-edge.json")
	arn := ev.ARN.String()
	other := ev.ARN.Resources("GET", "/profile")[0]
	r := Responder{AllowAmbiguousPaths: true} // the edge event's path has an encoded slash
	policyOf := func(resp any) events.APIGatewayCustomAuthorizerPolicy {
		t.Helper()
		p, ok := resp.(events.APIGatewayCustomAuthorizerResponse)
		if !ok {
			t.Fatalf("response is %T, want an IAM policy response", resp)
		}
		return p.PolicyDocument
	}

	resp, err := r.Allow(ev, decisionOf(t, `{"allow":true,"grants":[{"method":"GET","path":"/profile"}]}`), "u")
	if err != nil {
		t.Fatal(err)
	}
	if doc := policyOf(resp); !Allows(doc, arn) || !Allows(doc, other) || Allows(doc, ev.ARN.Resources("POST", "/profile")[0]) {
		t.Errorf("allow with a grant elsewhere must allow this ARN and the grant, nothing more: %+v", doc)
	}

	resp, err = r.Deny(ev, decisionOf(t, `{"allow":false,"grants":[{"method":"*","path":"*"}]}`), "u")
	if err != nil {
		t.Fatal(err)
	}
	if doc := policyOf(resp); Allows(doc, arn) || !Allows(doc, other) {
		t.Errorf("deny must refuse this ARN even under a grant of everything, and keep the grants: %+v", doc)
	}

	if doc := policyOf(r.Fail(ev, "u")); Allows(doc, arn) || Allows(doc, other) {
		t.Errorf("fail must allow nothing: %+v", doc)
	}
	if doc := policyOf(r.Fail(nil, "u")); Allows(doc, arn) || doc.Statement[0].Resource[0] != "*" {
		t.Errorf("fail without an event must deny everything: %+v", doc)
	}
}

// TestGrantsAllowNoMoreThanThePolicy checks the IAM policy a cached decision
// leaves behind: every ARN it allows must be one the policy's grants cover.
func TestGrantsAllowNoMoreThanThePolicy(t *testing.T) {
	ev := mustEvent(t, "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/profile")
	d := decisionOf(t, `{"allow":true,"grants":[{"method":"*","path":"/profile"},{"method":"GET","path":"/orders/*"},{"method":"*","path":"$connect"}]}`)
	resp, err := Responder{}.Allow(ev, d, "u")
	if err != nil {
		t.Fatal(err)
	}
	doc := resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument
	arn := func(method, path string) string { return ev.ARN.Resources(method, path)[0] }
	for _, allowed := range [][2]string{{"GET", "/profile"}, {"DELETE", "/profile"}, {"GET", "/orders/1"}, {"GET", "/orders/1/items"}} {
		if !Allows(doc, arn(allowed[0], allowed[1])) {
			t.Errorf("%s %s is granted but not allowed", allowed[0], allowed[1])
		}
	}
	for _, denied := range [][2]string{{"DELETE", "/admin/users/profile"}, {"GET", "/x/profile"}, {"POST", "/orders/1"},
		{"GET", "/x/orders/1"}, {"GET", "/$connect"}, {"POST", "/a/$connect"}} {
		if Allows(doc, arn(denied[0], denied[1])) {
			t.Errorf("%s %s is allowed by the policy %+v but granted by nothing", denied[0], denied[1], doc)
		}
	}
}

func TestAllowRefusesWhatIAMCannotSay(t *testing.T) {
	longPath := "/" + strings.Repeat("a", MaxResourceLength)
	wildcard := mustEvent(t, "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/files/*")
	long := mustEvent(t, "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET"+longPath)
	tests := []struct {
		name     string
		ev       *Event
		decision string
		wantErr  bool
	}{
		{"a wildcard in the ARN would allow more than this request", wildcard, `{"allow":true}`, true},
		{"a grant covering the wildcard ARN is the policy's own choice", wildcard, `{"allow":true,"grants":[{"method":"GET","path":"/files/*"}]}`, false},
		{"an ARN over the limit cannot be named", long, `{"allow":true}`, true},
		{"a grant covering the long ARN is fine", long, `{"allow":true,"grants":[{"method":"GET","path":"/a*"}]}`, false},
		{"a grant over the limit cannot be named", long, `{"allow":true,"grants":[{"method":"GET","path":"` + longPath + `"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := Responder{}.Allow(tt.ev, decisionOf(t, tt.decision), "u")
			if tt.wantErr {
				if !errors.Is(err, ErrNotRepresentable) || resp != nil {
					t.Fatalf("Allow = %v, %v; want no response and ErrNotRepresentable", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			doc := resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument
			for _, st := range doc.Statement {
				for _, res := range st.Resource {
					if len(res) > MaxResourceLength {
						t.Errorf("resource of %d characters", len(res))
					}
				}
			}
			if !Allows(doc, tt.ev.ARN.String()) {
				t.Errorf("allowed decision does not allow its own ARN: %+v", doc)
			}
		})
	}

	// A Deny still fits: the ARN is cut and ends in '*'.
	resp, err := Responder{}.Deny(long, decisionOf(t, `{"allow":false}`), "u")
	if err != nil {
		t.Fatal(err)
	}
	doc := resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument
	if res := doc.Statement[0].Resource[0]; len(res) > MaxResourceLength || !strings.HasSuffix(res, "*") {
		t.Errorf("deny resource %q does not fit", res)
	}
}

// TestGrantsWhoseAmbiguousPathDenyCannotFit: with a prefix (API, stage) so
// long that the Deny of ambiguous paths exceeds API Gateway's limit while a
// grant still fits, the grants cannot be listed safely: Allow and Deny refuse
// (the authorizer then answers Fail), never a Resource over the limit. Found
// while writing FuzzRESTEvent; API Gateway's own stage names are far shorter.
func TestGrantsWhoseAmbiguousPathDenyCannotFit(t *testing.T) {
	ev := mustEvent(t, "arn:aws:execute-api:eu-west-1:123456789012:abc123/"+strings.Repeat("s", 457)+"/GET/orders/1")
	for _, doc := range []string{`{"allow":true,"grants":[{"method":"GET","path":"*"}]}`, `{"allow":false,"grants":[{"method":"GET","path":"*"}]}`} {
		d := decisionOf(t, doc)
		respond := Responder{}.Allow
		if !d.Allow {
			respond = Responder{}.Deny
		}
		if resp, err := respond(ev, d, "u"); !errors.Is(err, ErrNotRepresentable) || resp != nil {
			t.Fatalf("%s: %+v, %v; want no response and ErrNotRepresentable", doc, resp, err)
		}
	}
	// Without the path rule there is nothing to deny besides, and the grant fits.
	if _, err := (Responder{AllowAmbiguousPaths: true}).Allow(ev, decisionOf(t, `{"allow":true,"grants":[{"method":"GET","path":"*"}]}`), "u"); err != nil {
		t.Fatal(err)
	}
}

// TestAllowOfAnARNWithALiteralWildcard checks a request whose path holds a '*'
// or '?' that a grant covers: the grants alone allow it, so the Allow needs no
// Resource naming the ARN, and refusing it (ErrNotRepresentable) would deny a
// request the policy allows and log an error any caller can provoke.
func TestAllowOfAnARNWithALiteralWildcard(t *testing.T) {
	const base = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"
	tests := []struct {
		name, arn, decision string
	}{
		{"a * in the path, a grant ending in *", base + "GET/orders/*/items", `{"allow":true,"grants":[{"method":"GET","path":"/orders/*"}]}`},
		{"a * at the end of the path", base + "GET/orders/*", `{"allow":true,"grants":[{"method":"GET","path":"/orders/*"}]}`},
		{"a ? in the path", base + "GET/orders/?/items", `{"allow":true,"grants":[{"method":"*","path":"/orders/*/items"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := mustEvent(t, tt.arn)
			d := decisionOf(t, tt.decision)
			resp, err := Responder{}.Allow(ev, d, "u")
			if err != nil {
				t.Fatalf("Allow: %v", err)
			}
			doc := resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument
			if Evaluate(doc, tt.arn) != "Allow" {
				t.Fatalf("the Allow does not allow its own ARN: %+v", doc)
			}
			// Only the grants: the ARN itself, wildcards and all, would allow more.
			var want []string
			for _, g := range d.Grants {
				want = append(want, ev.ARN.Resources(g.Method, g.Path)...)
			}
			if doc.Statement[0].Effect != "Allow" || !slices.Equal(doc.Statement[0].Resource, want) {
				t.Errorf("policy %+v, want an Allow of the grants %q", doc, want)
			}
			for _, st := range doc.Statement[1:] {
				if st.Effect != "Deny" {
					t.Errorf("a second Allow: %+v", st)
				}
			}
		})
	}
}

func mustEvent(t *testing.T, arn string) *Event {
	t.Helper()
	ev, err := Decode([]byte(`{"type":"TOKEN","authorizationToken":"x","methodArn":"` + arn + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestFlattenContext(t *testing.T) {
	in := map[string]any{
		"s": "x", "b": false, "n": json.Number("1.5"), "f": 2.0,
		"roles":  []any{"a", "b", nil, json.Number("3"), true},
		"empty":  []any{},
		"mixed":  []any{"a", map[string]any{"k": "v"}},
		"obj":    map[string]any{"z": 1.0, "a": []any{"x"}},
		"absent": nil,
	}
	want := map[string]any{
		"s": "x", "b": false, "n": json.Number("1.5"), "f": 2.0,
		"roles": "a,b,3,true",
		"empty": "",
		"mixed": `["a",{"k":"v"}]`,
		"obj":   `{"a":["x"],"z":1}`,
	}
	got := flattenContext(in)
	if len(got) != len(want) {
		t.Fatalf("got %d keys %v, want %d", len(got), got, len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if flattenContext(nil) != nil {
		t.Error("no context must flatten to none")
	}
}

// TestGrantsComeWithADenyOfAmbiguousPaths: API Gateway applies a cached policy
// to the caller's later requests without asking the authorizer, so the path
// rule must travel in the policy: a reader's cached grant of GET /orders/* must
// not let GET /orders/%2e%2e/admin/users through.
func TestGrantsComeWithADenyOfAmbiguousPaths(t *testing.T) {
	const base = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"
	ev := mustEvent(t, base+"GET/orders/1")
	reader := decisionOf(t, `{"allow":true,"grants":[{"method":"GET","path":"/orders/*"},{"method":"*","path":"*"}]}`)
	denied := decisionOf(t, `{"allow":false,"grants":[{"method":"GET","path":"/orders/*"},{"method":"*","path":"*"}]}`)
	ambiguous := []string{"/orders/../admin/users", "/orders/..", "/orders/./x", "/orders/..;/admin", "/orders/.;/admin",
		"/orders/%2e%2e/admin", "/orders/.%2E/admin", "/orders/..%2fadmin", "/orders/..%2Fadmin", `/orders/..\admin`,
		"/orders/..%5cadmin", "/orders/..%5Cadmin", "/orders/..%3b/admin", "/orders/%252e%252e/admin", "/orders/1%00.json",
		"/orders/1%0d%0aX: y", "/orders/%c0%ae%c0%ae/admin", "/orders/%C0%AE%C0%AE/admin"}
	for name, r := range map[string]Responder{"rule on": {}, "rule off": {AllowAmbiguousPaths: true}} {
		for _, respond := range []func(*Event, *decision.Decision, string) (any, error){
			func(ev *Event, _ *decision.Decision, p string) (any, error) { return r.Allow(ev, reader, p) },
			func(ev *Event, _ *decision.Decision, p string) (any, error) { return r.Deny(ev, denied, p) },
		} {
			resp, err := respond(ev, nil, "u")
			if err != nil {
				t.Fatal(err)
			}
			doc := resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument
			if !Allows(doc, base+"GET/orders/2") || !Allows(doc, base+"POST/admin/users") {
				t.Fatalf("%s: the grants are not allowed: %+v", name, doc)
			}
			for _, p := range ambiguous {
				if got := Evaluate(doc, base+"GET"+p); (got == "Deny") != (name == "rule on") {
					t.Errorf("%s: a cached policy answers %q for GET %s", name, got, p)
				}
			}
		}
	}
	// No grants, no Deny: the policy names this ARN only, nothing to abuse.
	resp, err := Responder{}.Allow(ev, decisionOf(t, `{"allow":true}`), "u")
	if err != nil {
		t.Fatal(err)
	}
	if doc := resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument; len(doc.Statement) != 1 {
		t.Errorf("policy without grants: %+v", doc)
	}
}

// TestAllowNeverDeniesItsOwnRequest: if the path rule and the Deny it puts in
// the policy ever disagreed, an Allow would refuse its own request; Allow says
// the decision cannot be expressed instead, which the core turns into a Deny.
func TestAllowNeverDeniesItsOwnRequest(t *testing.T) {
	ev := mustEvent(t, "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/%2e%2e/admin")
	d := decisionOf(t, `{"allow":true,"grants":[{"method":"GET","path":"/orders/*"}]}`)
	if _, err := (Responder{}).Allow(ev, d, "u"); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("Allow = %v, want ErrNotRepresentable", err)
	}
	resp, err := Responder{AllowAmbiguousPaths: true}.Allow(ev, d, "u")
	if err != nil || !Allows(resp.(events.APIGatewayCustomAuthorizerResponse).PolicyDocument, ev.ARN.String()) {
		t.Fatalf("with the rule off: %v, %+v", err, resp)
	}
}
