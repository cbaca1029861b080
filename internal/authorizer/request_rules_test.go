package authorizer

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/logging"
)

// TestAmbiguousPathsAreDenied: with the default policy a reader may GET
// /orders/*, and IAM's '*' covers "/orders/../admin/users" as text. Whatever
// normalises the path in front of or behind API Gateway would make it
// /admin/users, which readers may not call. Such paths are denied before the
// policy is asked, unless AUTHZ_ALLOW_AMBIGUOUS_PATHS says otherwise.
func TestAmbiguousPathsAreDenied(t *testing.T) {
	f := newFixture(t)
	reader := bearer(f.token(t, "bob", "orders-readers"))
	strict := f.authorizer(t, "", nil)
	lax := f.authorizer(t, "", func(o *Options) { o.AllowAmbiguousPaths = true })
	if res := strict.Authorize(context.Background(), restEvent("GET", "/admin/users", reader)); res.Outcome != OutcomeDeny {
		t.Fatalf("/admin/users: %s; the test assumes readers may not call it", res.Outcome)
	}
	for _, path := range []string{"/orders/../admin/users", "/orders/%2e%2e/admin/users", "/orders/..%2Fadmin", `/orders/..\admin`,
		"/orders/.%2E/admin", "/orders/..;/admin", "/orders/%252e%252e/admin", "/orders/1%00.json"} {
		t.Run(path, func(t *testing.T) {
			for _, headers := range []map[string]string{reader, nil} {
				res := strict.Authorize(context.Background(), restEvent("GET", path, headers))
				if res.Outcome != OutcomeDeny || res.Reason != ReasonAmbiguousPath || res.Input != nil {
					t.Fatalf("outcome %s/%s (%v), policy asked: %v", res.Outcome, res.Reason, res.Err, res.Input != nil)
				}
				if gateway.Allows(policyDoc(t, res.Response), res.Event.ARN.String()) {
					t.Fatal("the response lets the request through")
				}
			}
			if res := strict.Authorize(context.Background(), restEvent("GET", path, reader)); res.PrincipalID != "bob" {
				t.Errorf("principal %q: the denial should say who tried", res.PrincipalID)
			}
			// The rule, not the policy, denied it: turned off, the policy's
			// grant covers the path as text.
			if res := lax.Authorize(context.Background(), restEvent("GET", path, reader)); res.Outcome != OutcomeAllow {
				t.Fatalf("with AllowAmbiguousPaths: %s/%s (%v)", res.Outcome, res.Reason, res.Err)
			}
		})
	}
}

// TestTheMethodIsTheARNs: a REST event whose httpMethod says GET while its ARN
// says DELETE was decided as GET and allowed as DELETE.
func TestTheMethodIsTheARNs(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", nil)
	ev, _ := json.Marshal(map[string]any{
		"type": "REQUEST", "methodArn": methodARN + "DELETE/orders/1", "resource": "/orders/{id}", "path": "/orders/1",
		"httpMethod": "GET", "headers": bearer(f.token(t, "bob", "orders-readers")),
		"requestContext": map[string]any{"httpMethod": "GET"},
	})
	res := a.Authorize(context.Background(), ev)
	if res.Outcome != OutcomeDeny || res.Input["request"].(map[string]any)["method"] != "DELETE" {
		t.Fatalf("outcome %s/%s, method %v", res.Outcome, res.Reason, res.Input["request"].(map[string]any)["method"])
	}
	if gateway.Allows(policyDoc(t, res.Response), methodARN+"DELETE/orders/1") {
		t.Fatal("API Gateway would let the DELETE through")
	}
}

// TestNoCopyOfTheTokenReachesThePolicy puts the token wherever a client can:
// the user agent (which API Gateway also copies into the request context), other
// headers, query names and values, cookies, path parameters.
func TestNoCopyOfTheTokenReachesThePolicy(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "alice", "admins")
	var seen map[string]any
	a := f.authorizer(t, "", func(o *Options) { o.Decider = recordingDecider{next: o.Decider, seen: &seen} })
	ev, _ := json.Marshal(map[string]any{
		"type": "REQUEST", "methodArn": methodARN + "GET/orders/1", "resource": "/orders/{id}", "path": "/orders/1", "httpMethod": "GET",
		"headers": map[string]string{"Authorization": "Bearer " + tok, "User-Agent": "app/1 " + tok,
			"X-Debug": "token=" + tok, "Referer": "https://app.example/?t=" + tok, "Accept": "*/*",
			"X-Forwarded-For": tok + ", 198.51.100.7"},
		"queryStringParameters": map[string]string{"t": tok, tok: "1", "page": "2"},
		"pathParameters":        map[string]string{"id": "1", "x": tok},
		"requestContext":        map[string]any{"identity": map[string]any{"userAgent": "app/1 " + tok, "sourceIp": "203.0.113.9"}},
	})
	res := a.Authorize(context.Background(), ev)
	if res.Outcome != OutcomeAllow {
		t.Fatalf("outcome %s/%s (%v)", res.Outcome, res.Reason, res.Err)
	}
	input, _ := json.Marshal(seen)
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if strings.Contains(string(input), sig) {
		t.Fatalf("a copy of the token reached the policy: %s", input)
	}
	if !strings.Contains(string(input), `"accept":"*/*"`) || !strings.Contains(string(input), `"page":"2"`) {
		t.Fatalf("values without the token must stay: %s", input)
	}
	// Writing the token into a field must not remove the field.
	if !strings.Contains(string(input), `"x-forwarded-for":"[token], 198.51.100.7"`) || !strings.Contains(string(input), `"user_agent":"app/1 [token]"`) {
		t.Fatalf("fields holding the token must stay, the token replaced: %s", input)
	}
}

// TestATokenInThePathIsDenied: the path cannot be removed from the input, so a
// request carrying its verified token in the path never reaches the policy, and
// the log line cuts the token out.
func TestATokenInThePathIsDenied(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "alice", "admins")
	var seen map[string]any
	a := f.authorizer(t, "", func(o *Options) {
		o.Decider = recordingDecider{next: o.Decider, seen: &seen}
		o.Log = logging.JSON(f.log, nil)
	})
	res := a.Authorize(context.Background(), restEvent("GET", "/orders/"+tok, bearer(tok)))
	if res.Outcome != OutcomeDeny || res.Reason != ReasonTokenInPath || seen != nil {
		t.Fatalf("outcome %s/%s (%v), policy asked: %v", res.Outcome, res.Reason, res.Err, seen != nil)
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if line := f.log.String(); strings.Contains(line, sig) || !strings.Contains(line, `GET/orders/[token]`) {
		t.Fatalf("decision log: %s", line)
	}
}

// TestBlankCredentialsAreMalformed: a present but blank token source was "no
// token", so a client sending "Authorization:  " was treated as anonymous (and
// allowed on public routes, with that result cached under the blank value).
func TestBlankCredentialsAreMalformed(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", func(o *Options) {
		o.Sources = identity.Sources{{Kind: "header", Name: "authorization"}, {Kind: "cookie", Name: "session"}}
	})
	token := func(v string) []byte {
		b, _ := json.Marshal(map[string]any{"type": "TOKEN", "authorizationToken": v, "methodArn": methodARN + "GET/health"})
		return b
	}
	for name, ev := range map[string][]byte{
		"white space":          restEvent("GET", "/health", map[string]string{"Authorization": " \t "}),
		"empty":                restEvent("GET", "/health", map[string]string{"Authorization": ""}),
		"blank cookie":         restEvent("GET", "/health", map[string]string{"Cookie": "session= ; theme=dark"}),
		"TOKEN event, a space": token(" "),
	} {
		t.Run(name, func(t *testing.T) {
			if res := a.Authorize(context.Background(), ev); res.Outcome != OutcomeUnauthorized || res.Reason != identity.ReasonMalformed {
				t.Fatalf("outcome %s/%s (%v), want unauthorized/%s", res.Outcome, res.Reason, res.Err, identity.ReasonMalformed)
			}
		})
	}
	if res := a.Authorize(context.Background(), restEvent("GET", "/health", nil)); res.Outcome != OutcomeAllow {
		t.Fatalf("no token at all on a public route: %s/%s", res.Outcome, res.Reason)
	}
}

// TestLogLinesAreBounded: a 100 KB path made a 102 KB decision-log line, through
// the path, the ARN and the policy's reasons, which quote the request; with the
// input and result in the line, 700 KB. Every long string is cut, and the line
// says where.
func TestLogLinesAreBounded(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", func(o *Options) { o.Log = logging.JSON(f.log, nil) })
	path := "/orders/1/" + strings.Repeat("a", 100_000)
	res := a.Authorize(context.Background(), restEvent("DELETE", path, bearer(f.token(t, "bob", "orders-readers"))))
	if res.Outcome != OutcomeDeny || len(res.Decision.Reasons) == 0 {
		t.Fatalf("outcome %s/%s, reasons %v", res.Outcome, res.Reason, res.Decision)
	}
	line := f.log.String()
	if len(line) > 16<<10 {
		t.Fatalf("the decision-log line has %d bytes", len(line))
	}
	var m struct {
		Custom struct {
			Reason  string
			Clipped []string
		}
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil || m.Custom.Reason != ReasonDenied {
		t.Fatalf("line %.300s: %v", line, err)
	}
	for _, p := range []string{"/input/request/path", "/input/request/method_arn", "/custom/method_arn"} {
		if !slices.Contains(m.Custom.Clipped, p) {
			t.Errorf("custom.clipped %v lacks %s", m.Custom.Clipped, p)
		}
	}
}
