package authorizer

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/gateway"
)

// FuzzHandler drives the whole decision with arbitrary event bytes and
// token strings in every place a token may be, and with real tokens of the
// issuer among them. Whatever comes in:
//   - nothing panics (a recovered panic is a bug too);
//   - an Allow comes only from a valid decision that allows;
//   - an answer that is not an Allow lets no request through;
//   - an Allow's resources are the caller's grants or this request's ARN,
//     free of wildcards, and no Resource exceeds API Gateway's 512
//     characters;
//   - a verified token is in no log line and no error;
//   - the response encodes.
//
// make test runs it on its seeds; make fuzz runs it for a while.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f)
	a := fx.authorizer(f, "", nil)
	admin := fx.token(f, "alice", "admins")
	reader := fx.token(f, "bob", "orders-readers")
	for _, seed := range [][]byte{
		restEvent("GET", "/orders/42", nil),
		restEvent("DELETE", "/orders/42", nil),
		restEvent("GET", "/health", nil),
		restEvent("GET", "/orders/*", nil),
		restEvent("GET", "/a/../orders", nil),
		[]byte(`{"type":"TOKEN","methodArn":"` + methodARN + `GET/x","authorizationToken":"Bearer x"}`),
		[]byte(`{"version":"2.0","type":"REQUEST","routeArn":"` + methodARN + `GET/orders","routeKey":"GET /orders","rawPath":"/orders","headers":{},"requestContext":{"http":{"method":"GET","path":"/orders"}}}`),
		[]byte(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:a/prod/$connect","requestContext":{"eventType":"CONNECT","connectionId":"c1"}}`),
		[]byte(`{"type":"REQUEST"`),
		[]byte(`null`),
	} {
		for which := range uint8(4) {
			for where := range uint8(4) {
				f.Add(seed, which, where, "eyJhbGciOiJub25lIn0.e30.")
			}
		}
	}
	f.Fuzz(func(t *testing.T, event []byte, which, where uint8, token string) {
		switch which % 4 {
		case 1:
			token = admin
		case 2:
			token = reader
		case 3:
			token = admin[:len(admin)-2] + "AA" // the signature broken
		}
		event = placeToken(event, where, token)
		// Each worker runs one input at a time: the buffer holds this
		// decision's lines only.
		fx.log.mu.Lock()
		fx.log.buf.Reset()
		fx.log.mu.Unlock()
		res := a.Authorize(context.Background(), event)
		lines := fx.log.String()

		if res.Reason == ReasonPanic {
			t.Fatalf("a panic: %v\n%s", res.Err, res.Stack)
		}
		if res.Outcome == OutcomeAllow && (res.Decision == nil || !res.Decision.Allow) {
			t.Fatalf("allowed without a decision that allows: %+v", res)
		}
		if res.Token != nil {
			raw := res.secret
			if raw == "" || strings.Contains(lines, raw) || (res.Err != nil && strings.Contains(res.Err.Error(), raw)) {
				t.Fatalf("a verified token in a log line or error:\n%s", lines)
			}
		}
		if res.Outcome == OutcomeUnauthorized {
			return
		}
		b, err := json.Marshal(res.Response)
		if err != nil {
			t.Fatalf("the response does not encode: %v", err)
		}
		resp, ok := res.Response.(events.APIGatewayCustomAuthorizerResponse)
		if !ok {
			if simple, ok := res.Response.(events.APIGatewayV2CustomAuthorizerSimpleResponse); ok && simple.IsAuthorized && res.Outcome != OutcomeAllow {
				t.Fatalf("%s answered isAuthorized: %s", res.Outcome, b)
			}
			return
		}
		var arn string
		if res.Event != nil {
			arn = res.Event.ARN.String()
		}
		for _, st := range resp.PolicyDocument.Statement {
			for _, r := range st.Resource {
				if len(r) > gateway.MaxResourceLength {
					t.Fatalf("a Resource of %d characters: %s", len(r), b)
				}
			}
		}
		if res.Outcome != OutcomeAllow {
			if arn != "" && gateway.Allows(resp.PolicyDocument, arn) {
				t.Fatalf("%s/%s lets the request through: %s", res.Outcome, res.Reason, b)
			}
			return
		}
		var granted []string
		for _, g := range res.Decision.Grants {
			granted = append(granted, res.Event.ARN.Resources(g.Method, g.Path)...)
		}
		for _, st := range resp.PolicyDocument.Statement {
			if st.Effect != "Allow" {
				continue
			}
			for _, r := range st.Resource {
				if !slices.Contains(granted, r) && (r != arn || res.Event.ARN.HasWildcard()) {
					t.Fatalf("an Allow of %s, neither a grant nor this request's ARN: %s", r, b)
				}
			}
		}
	})
}

// placeToken puts token where a token may be, in an event that is a JSON
// object: the Authorization header (with or without Bearer), a cookie, a
// query parameter, or a TOKEN event's authorizationToken. Anything else is
// left as it is.
func placeToken(event []byte, where uint8, token string) []byte {
	var ev map[string]any
	if json.Unmarshal(event, &ev) != nil || ev == nil {
		return event
	}
	section := func(name string) map[string]any {
		m, _ := ev[name].(map[string]any)
		if m == nil {
			m = map[string]any{}
			ev[name] = m
		}
		return m
	}
	switch {
	case ev["type"] == "TOKEN":
		ev["authorizationToken"] = "Bearer " + token
	case where%4 == 0:
		section("headers")["Authorization"] = "Bearer " + token
	case where%4 == 1:
		section("headers")["authorization"] = token
	case where%4 == 2:
		section("headers")["Cookie"] = "session=" + token
	default:
		section("queryStringParameters")["access_token"] = token
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return event
	}
	return b
}
