package peers_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/bench/peers"
)

// canonical is a response with each statement's resources sorted and the
// statements in order of effect, so that two policies listing the same grants
// in another order compare equal.
func canonical(t *testing.T, b []byte) events.APIGatewayCustomAuthorizerResponse {
	t.Helper()
	var r events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	for _, st := range r.PolicyDocument.Statement {
		slices.Sort(st.Resource)
	}
	slices.SortFunc(r.PolicyDocument.Statement, func(a, b events.IAMPolicyStatement) int {
		if a.Effect < b.Effect {
			return -1
		}
		if a.Effect > b.Effect {
			return 1
		}
		return 0
	})
	return r
}

// TestPeersAnswerAsTheFloor holds the OPA server and compile-per-request
// peers to the floor: the same response for the same event and token.
func TestPeersAnswerAsTheFloor(t *testing.T) {
	ctx := context.Background()
	iss := fixture.Issuer(t)
	fl, err := peers.Floor(iss)
	if err != nil {
		t.Fatal(err)
	}
	server, err := peers.StartOPAServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	compiler, err := peers.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	evs := map[string][]byte{}
	for _, shape := range fixture.Shapes {
		tok := fixture.MustMint(t, iss, shape)
		evs[string(shape)] = fixture.Event(shape, tok)
		evs[string(shape)+" deny"] = fixture.EventFor(shape, "DELETE", "/orders/42", tok)
	}
	evs["public, no token"] = fixture.EventFor(fixture.Small, "GET", "/health", "")
	for name, peer := range map[string]*peers.Peer{
		"OPA server":          {Floor: fl, Decide: server.Decide},
		"compile per request": {Floor: fl, Decide: compiler.Decide},
	} {
		for evName, ev := range evs {
			t.Run(name+"/"+evName, func(t *testing.T) {
				want, err := fl.Invoke(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				got, err := peer.Invoke(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				w, g := canonical(t, want), canonical(t, got)
				wj, _ := json.Marshal(w)
				gj, _ := json.Marshal(g)
				if string(wj) != string(gj) {
					t.Errorf("\n peer  %s\n floor %s", gj, wj)
				}
			})
		}
	}
	// Without a token, a route that is not public is a 401 for every peer.
	for name, peer := range map[string]*peers.Peer{"OPA server": {Floor: fl, Decide: server.Decide}} {
		if _, err := peer.Invoke(ctx, fixture.Event(fixture.Small, "")); err == nil {
			t.Errorf("%s: no token on GET /orders/42 answered, want Unauthorized", name)
		}
	}
}

// TestProjectInput checks that the input is the project's: the request with
// the Authorization header taken out, and the verified token.
func TestProjectInput(t *testing.T) {
	iss := fixture.Issuer(t)
	input, err := peers.ProjectInput(context.Background(), iss, fixture.Event(fixture.Realistic, fixture.MustMint(t, iss, fixture.Realistic)))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := input["request"].(map[string]any)
	headers, _ := req["headers"].(map[string]string)
	if _, ok := headers["authorization"]; ok || len(headers) < 20 {
		t.Errorf("headers %v: want some twenty, without authorization", headers)
	}
	tok, _ := input["token"].(map[string]any)
	if groups, _ := tok["groups"].([]string); len(groups) != 12 {
		t.Errorf("token groups %v, want 12", tok["groups"])
	}
}
