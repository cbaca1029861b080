package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

const methodARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"

// restEvent is a REST REQUEST event for method and path with the given headers.
func restEvent(method, path string, headers map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": "REQUEST", "methodArn": methodARN + method + path, "resource": path, "path": path,
		"httpMethod": method, "headers": headers,
		"requestContext": map[string]any{"requestId": "req-1", "identity": map[string]any{"sourceIp": "203.0.113.9"}},
	})
	return b
}

// syncBuffer is a log sink safe for the concurrent writes of parallel decisions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	iss *devissuer.Issuer
	log *syncBuffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return &fixture{iss: iss, log: &syncBuffer{}}
}

func (f *fixture) token(t testing.TB, sub string, groups ...string) string {
	t.Helper()
	c := f.iss.Claims(sub)
	c["groups"] = groups
	tok, err := f.iss.Mint(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authorizer builds an authorizer on the real verifier and the policy in rego
// (a single file), or on the embedded default policy when rego is "".
func (f *fixture) authorizer(t testing.TB, rego string, change func(*Options)) *Authorizer {
	t.Helper()
	v, err := identity.New([]identity.IssuerConfig{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience()}}}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	popts := policy.Options{}
	if rego != "" {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(rego), 0o644); err != nil {
			t.Fatal(err)
		}
		popts.Bundle = dir
	}
	engine, err := policy.Load(context.Background(), popts)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Verifier: v, Decider: engine, Revision: engine.Revision(), DecisionLog: true,
		Log: slog.New(slog.NewJSONHandler(f.log, nil))}
	if change != nil {
		change(&opts)
	}
	return New(opts)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func policyDoc(t *testing.T, resp any) events.APIGatewayCustomAuthorizerPolicy {
	t.Helper()
	r, ok := resp.(events.APIGatewayCustomAuthorizerResponse)
	if !ok {
		t.Fatalf("response %T is not an IAM policy response", resp)
	}
	return r.PolicyDocument
}

// TestOutcomes walks the contract's outcome table (section 5) on a REST event.
func TestOutcomes(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "alice", "admins")
	reader := f.token(t, "bob", "orders-readers")
	expired := func() string {
		c := f.iss.Claims("carol")
		c["exp"] = time.Now().Add(-time.Minute).Unix()
		tok, _ := f.iss.Mint(c, nil)
		return tok
	}()

	tests := []struct {
		name      string
		rego      string
		change    func(*Options)
		event     []byte
		outcome   Outcome
		reason    string
		allowsARN bool // would API Gateway let this request through
	}{
		{"no token, public route", "", nil, restEvent("GET", "/health", nil), OutcomeAllow, ReasonAllowed, true},
		{"no token, private route", "", nil, restEvent("GET", "/orders", nil), OutcomeUnauthorized, ReasonNoToken, false},
		{"expired token", "", nil, restEvent("GET", "/orders", bearer(expired)), OutcomeUnauthorized, identity.ReasonExpired, false},
		{"garbage token", "", nil, restEvent("GET", "/orders", bearer("abc")), OutcomeUnauthorized, identity.ReasonMalformed, false},
		{"another scheme", "", nil, restEvent("GET", "/orders", map[string]string{"authorization": "Basic dXNlcjpwYXNz"}), OutcomeUnauthorized, identity.ReasonScheme, false},
		{"bad token on a public route is still refused", "", nil, restEvent("GET", "/health", bearer(expired)), OutcomeUnauthorized, identity.ReasonExpired, false},
		{"verified, allowed", "", nil, restEvent("DELETE", "/orders/1", bearer(admin)), OutcomeAllow, ReasonAllowed, true},
		{"verified, denied", "", nil, restEvent("DELETE", "/orders/1", bearer(reader)), OutcomeDeny, ReasonDenied, false},
		{"policy runtime error", "package authz\ndecision := {\"allow\": to_number(input.request.path) > 0}\n", nil,
			restEvent("GET", "/health", bearer(admin)), OutcomeError, policy.ReasonEval, false},
		{"undefined decision", "package authz\ndecision := {\"allow\": true} if input.nothing\n", nil,
			restEvent("GET", "/health", bearer(admin)), OutcomeError, policy.ReasonUndefined, false},
		{"non-object decision", "package authz\ndecision := true\n", nil,
			restEvent("GET", "/health", nil), OutcomeError, policy.ReasonInvalid, false},
		{"allow as the string true", "package authz\ndecision := {\"allow\": \"true\"}\n", nil,
			restEvent("GET", "/health", bearer(admin)), OutcomeError, policy.ReasonInvalid, false},
		{"decision IAM cannot express", "package authz\ndecision := {\"allow\": true}\n", nil,
			restEvent("GET", "/files/*", bearer(admin)), OutcomeError, ReasonResponse, false},
		{"panic in the policy step", "", func(o *Options) { o.Decider = panicking{} },
			restEvent("GET", "/health", bearer(admin)), OutcomeError, ReasonPanic, false},
		{"panic in the token step", "", func(o *Options) { o.Verifier = panicking{} },
			restEvent("GET", "/health", bearer(admin)), OutcomeError, ReasonPanic, false},
		{"malformed event", "", nil, []byte(`{"type":"REQUEST","methodArn":42}`), OutcomeError, ReasonEvent, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authorizer(t, tt.rego, tt.change)
			res := a.Authorize(context.Background(), tt.event)
			if res.Outcome != tt.outcome || res.Reason != tt.reason {
				t.Fatalf("outcome %s/%s (%v), want %s/%s", res.Outcome, res.Reason, res.Err, tt.outcome, tt.reason)
			}
			resp, err := a.Handle(context.Background(), tt.event)
			if tt.outcome == OutcomeUnauthorized {
				if !errors.Is(err, ErrUnauthorized) || err.Error() != "Unauthorized" || resp != nil {
					t.Fatalf("Handle = %v, %v; want the Unauthorized error", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle error %v", err)
			}
			doc := policyDoc(t, resp)
			arn := "*"
			if res.Event != nil {
				arn = res.Event.ARN.String()
			}
			if got := gateway.Allows(doc, arn); got != tt.allowsARN {
				t.Fatalf("API Gateway would allow: %v, want %v; policy %+v", got, tt.allowsARN, doc)
			}
			if tt.outcome == OutcomeError {
				for _, st := range doc.Statement {
					if st.Effect != "Deny" {
						t.Fatalf("an error outcome returned a %s statement: %+v", st.Effect, doc)
					}
				}
			}
		})
	}
}

type panicking struct{}

func (panicking) Verify(context.Context, string) (*identity.Token, error) { panic("verifier bug") }

func (panicking) EvaluateValue(context.Context, ast.Value) (any, error) {
	panic("policy bug")
}

func TestDenyKeepsTheGrantsForTheCache(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", nil)
	res := a.Authorize(context.Background(), restEvent("DELETE", "/orders/1", bearer(f.token(t, "bob", "orders-readers"))))
	doc := policyDoc(t, res.Response)
	if gateway.Allows(doc, methodARN+"DELETE/orders/1") {
		t.Fatal("the denied request is allowed")
	}
	// A cached copy of this policy must let bob read orders, as the policy would.
	if !gateway.Allows(doc, methodARN+"GET/orders/2") || gateway.Allows(doc, methodARN+"POST/orders") {
		t.Fatalf("the grants are not in the policy: %+v", doc)
	}
}

func TestTokenNeverReachesThePolicyOrTheLog(t *testing.T) {
	f := newFixture(t)
	var seen map[string]any
	tok := f.token(t, "alice", "admins")
	a := f.authorizer(t, "", func(o *Options) {
		o.Decider = recordingDecider{next: o.Decider, seen: &seen}
		o.Sources = identity.Sources{{Kind: "header", Name: "authorization"}, {Kind: "cookie", Name: "id_token"}, {Kind: "query", Name: "access_token"}}
	})
	ev, _ := json.Marshal(map[string]any{
		"type": "REQUEST", "methodArn": methodARN + "GET/orders", "path": "/orders", "httpMethod": "GET",
		"headers":               map[string]string{"Authorization": "Bearer " + tok, "Cookie": "id_token=" + tok + "; theme=dark"},
		"queryStringParameters": map[string]string{"access_token": tok, "page": "2"},
	})
	res := a.Authorize(context.Background(), ev)
	if res.Outcome != OutcomeAllow {
		t.Fatalf("outcome %s (%v)", res.Outcome, res.Err)
	}
	input, _ := json.Marshal(seen)
	if bytes.Contains(input, []byte(tok)) || bytes.Contains(input, []byte(strings.Split(tok, ".")[2])) {
		t.Fatalf("the token reached the policy input: %s", input)
	}
	if !bytes.Contains(input, []byte(`"theme":"dark"`)) || !bytes.Contains(input, []byte(`"page":"2"`)) {
		t.Fatalf("other cookies and parameters must stay: %s", input)
	}
	// A rejected token is not logged either.
	a.Authorize(context.Background(), restEvent("GET", "/orders", bearer(tok+"x")))
	if strings.Contains(f.log.String(), strings.Split(tok, ".")[2]) {
		t.Fatal("the decision log holds the token")
	}
}

type recordingDecider struct {
	next Decider
	seen *map[string]any
}

func (r recordingDecider) EvaluateValue(ctx context.Context, input ast.Value) (any, error) {
	doc, err := ast.JSON(input)
	if err != nil {
		return nil, err
	}
	*r.seen = doc.(map[string]any)
	return r.next.EvaluateValue(ctx, input)
}

func TestDecisionLogLine(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", nil)
	a.Authorize(context.Background(), restEvent("DELETE", "/orders/1", bearer(f.token(t, "bob", "orders-readers"))))
	lines := strings.Split(strings.TrimSpace(f.log.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines for one decision, want 1:\n%s", len(lines), f.log.String())
	}
	var line struct {
		Msg, Level string
		DecisionID string `json:"decision_id"`
		Timestamp  string
		Path       string
		Input      struct {
			Request struct{ Method, Path string }
			Token   struct{ Subject string }
		}
		Result struct {
			Allow bool
			Code  string
		}
		Bundles map[string]struct{ Revision string }
		Metrics map[string]float64
		Custom  map[string]any
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line.Msg != "decision" || line.Level != "INFO" || line.DecisionID == "" || line.Timestamp == "" || line.Path != "authz/decision" {
		t.Errorf("the event's header: %s", lines[0])
	}
	if line.Input.Request.Method != "DELETE" || line.Input.Request.Path != "/orders/1" || line.Input.Token.Subject != "bob" {
		t.Errorf("the input: %s", lines[0])
	}
	if line.Result.Allow || line.Result.Code == "" {
		t.Errorf("the result (a deny, with a code): %s", lines[0])
	}
	if line.Bundles["authz"].Revision != a.Revision() {
		t.Errorf("bundles: %v, want authz at %s", line.Bundles, a.Revision())
	}
	if line.Metrics["timer_rego_query_eval_ns"] <= 0 || line.Metrics["timer_authz_verify_ns"] <= 0 || line.Metrics["timer_authz_total_ns"] <= 0 {
		t.Errorf("metrics: %v", line.Metrics)
	}
	want := map[string]any{"outcome": "deny", "reason": "policy_denied", "code": line.Result.Code,
		"principal": "bob", "subject": "bob", "issuer": f.iss.URL, "kind": "rest",
		"request_id": "req-1", "source_ip": "203.0.113.9", "policy_revision": a.Revision(),
		"method_arn": methodARN + "DELETE/orders/1"}
	for k, v := range want {
		if line.Custom[k] != v {
			t.Errorf("custom.%s = %v, want %v", k, line.Custom[k], v)
		}
	}
	if _, ok := line.Custom["latency_ms"].(float64); !ok {
		t.Errorf("custom.latency_ms: %v", line.Custom["latency_ms"])
	}
}

func TestDecisionLogOffKeepsErrors(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", func(o *Options) { o.DecisionLog = false })
	a.Authorize(context.Background(), restEvent("GET", "/health", nil))
	if f.log.String() != "" {
		t.Fatalf("a decision was logged with the log off: %s", f.log.String())
	}
	a.Authorize(context.Background(), []byte(`not json`))
	if !strings.Contains(f.log.String(), `"outcome":"error"`) {
		t.Fatalf("an error outcome must be logged even with the decision log off: %q", f.log.String())
	}
}

func TestBrokenConfigurationDeniesEverything(t *testing.T) {
	log := &syncBuffer{}
	a := Broken(errors.New("AUTHZ_ISSUERS: required"), gateway.Responder{SimpleResponses: true}, slog.New(slog.NewJSONHandler(log, nil)))
	res := a.Authorize(context.Background(), restEvent("GET", "/health", nil))
	if res.Outcome != OutcomeError || res.Reason != ReasonConfig || gateway.Allows(policyDoc(t, res.Response), methodARN+"GET/health") {
		t.Fatalf("broken authorizer: %+v", res)
	}
	v2, _ := json.Marshal(map[string]any{"version": "2.0", "type": "REQUEST", "routeArn": methodARN + "GET/health"})
	resp, err := a.Handle(context.Background(), v2)
	if err != nil || resp.(events.APIGatewayV2CustomAuthorizerSimpleResponse).IsAuthorized {
		t.Fatalf("broken authorizer, simple response: %+v, %v", resp, err)
	}
	if !strings.Contains(log.String(), "AUTHZ_ISSUERS: required") {
		t.Fatalf("the log does not say why: %s", log.String())
	}
}

func TestDeadlineEndsInDeny(t *testing.T) {
	f := newFixture(t)
	slow := "package authz\ndecision := {\"allow\": count([x | some x in numbers.range(1, 100000000)]) > 0}\n"
	a := f.authorizer(t, slow, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := a.Authorize(ctx, restEvent("GET", "/health", nil))
	if res.Outcome != OutcomeError || res.Reason != ReasonTimeout {
		t.Fatalf("outcome %s/%s (%v), want error/timeout", res.Outcome, res.Reason, res.Err)
	}
	if res.Latency > 300*time.Millisecond {
		t.Fatalf("answered after %s, past the invocation's deadline", res.Latency)
	}
}

func TestIdentityProviderDownIsDenyNotUnauthorized(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", nil)
	tok := f.token(t, "alice", "admins")
	f.iss.Close()
	res := a.Authorize(context.Background(), restEvent("GET", "/orders", bearer(tok)))
	if res.Outcome != OutcomeError || res.Reason != identity.ReasonUnavailable {
		t.Fatalf("outcome %s/%s (%v)", res.Outcome, res.Reason, res.Err)
	}
}

// TestLambdaHandlerInvoke: the raw handler the Lambda runs (Invoke) and the
// typed one (Handle, through aws-lambda-go's wrapper) answer alike: the IAM
// policy as JSON, and for a 401 the error whose text API Gateway matches;
// and the raw one denies what is not even JSON.
func TestLambdaHandlerInvoke(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", nil)
	for name, h := range map[string]lambda.Handler{"Invoke": a, "Handle": lambda.NewHandler(a.Handle)} {
		out, err := h.Invoke(context.Background(), restEvent("GET", "/orders/9", bearer(f.token(t, "bob", "orders-readers"))))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var resp events.APIGatewayCustomAuthorizerResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.PrincipalID != "bob" || !gateway.Allows(resp.PolicyDocument, methodARN+"GET/orders/9") || resp.Context["roles"] != "reader" {
			t.Fatalf("%s: response %s", name, out)
		}
		if _, err := h.Invoke(context.Background(), restEvent("GET", "/orders/9", nil)); err == nil || err.Error() != "Unauthorized" {
			t.Fatalf("%s: no token: %v", name, err)
		}
	}
	// Bytes that are not JSON reach the raw handler, which denies them; the
	// typed handler's wrapper fails to decode them first (a 500).
	out, err := a.Invoke(context.Background(), []byte(`{"type":"REQUEST","methodArn":`))
	if err != nil || !strings.Contains(string(out), `"Effect":"Deny"`) {
		t.Fatalf("a malformed event: %s, %v; want a Deny", out, err)
	}
}

func TestConcurrentDecisions(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", nil)
	admin, reader := f.token(t, "alice", "admins"), f.token(t, "bob", "orders-readers")
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			tok, want := admin, OutcomeAllow
			if i%2 == 1 {
				tok, want = reader, OutcomeDeny
			}
			if res := a.Authorize(context.Background(), restEvent("DELETE", "/orders/1", bearer(tok))); res.Outcome != want {
				t.Errorf("decision %d: %s, want %s", i, res.Outcome, want)
			}
		})
	}
	wg.Wait()
}

// TestPanicStackBeginsWhereItPanicked: the decision line keeps a stack's
// first kilobyte, so the stack logged begins with the frame that panicked,
// not with the recovery's own frames.
func TestPanicStackBeginsWhereItPanicked(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", func(o *Options) { o.Decider = panicking{} })
	res := a.Authorize(context.Background(), restEvent("GET", "/health", nil))
	if res.Reason != ReasonPanic {
		t.Fatalf("reason %s, want %s", res.Reason, ReasonPanic)
	}
	first, _, _ := strings.Cut(res.Stack, "\n")
	if !strings.Contains(first, "panicking.Evaluate") {
		t.Fatalf("the stack begins with %q, not the frame that panicked:\n%s", first, res.Stack)
	}
}
