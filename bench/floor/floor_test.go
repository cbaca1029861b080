package floor_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/bench/floor"
	"github.com/apigw-authz/authz/internal/devissuer"
)

type env struct {
	iss   *devissuer.Issuer
	floor *floor.Authorizer
}

func setup(t *testing.T) *env {
	t.Helper()
	iss := fixture.Issuer(t)
	keys, err := fixture.Keys(iss)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := fixture.Data()
	if err != nil {
		t.Fatal(err)
	}
	data, err := floor.ParseData(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{iss: iss, floor: floor.New(iss.URL, iss.Audience(), keys, data)}
}

func (e *env) mint(t *testing.T, sub string, change func(map[string]any)) string {
	t.Helper()
	c := e.iss.Claims(sub)
	if change != nil {
		change(c)
	}
	tok, err := e.iss.Mint(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func groups(g ...string) func(map[string]any) {
	return func(c map[string]any) { c["groups"] = g }
}

func response(t *testing.T, b []byte) events.APIGatewayCustomAuthorizerResponse {
	t.Helper()
	var r events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	return r
}

// statements returns the resources of each effect, sorted.
func statements(doc events.APIGatewayCustomAuthorizerPolicy) map[string][]string {
	out := map[string][]string{}
	for _, st := range doc.Statement {
		out[st.Effect] = append(out[st.Effect], st.Resource...)
	}
	for k := range out {
		slices.Sort(out[k])
		out[k] = slices.Compact(out[k])
	}
	return out
}

const arn = fixture.ARNPrefix

func TestAllow(t *testing.T) {
	e := setup(t)
	for _, shape := range fixture.Shapes {
		t.Run(string(shape), func(t *testing.T) {
			out, err := e.floor.Invoke(context.Background(), fixture.Event(shape, fixture.MustMint(t, e.iss, shape)))
			if err != nil {
				t.Fatal(err)
			}
			r := response(t, out)
			st := statements(r.PolicyDocument)
			if len(st["Deny"]) != 0 {
				t.Errorf("Deny %v, want none", st["Deny"])
			}
			want := []string{arn + "GET/health", arn + "GET/orders", arn + "GET/orders/*", arn + "GET/profile"}
			if !slices.Equal(st["Allow"], want) {
				t.Errorf("Allow %v, want %v", st["Allow"], want)
			}
			if r.Context["roles"] != "reader" {
				t.Errorf("context %v, want roles reader", r.Context)
			}
			if r.PrincipalID == "" || r.PrincipalID == "anonymous" {
				t.Errorf("principal %q", r.PrincipalID)
			}
		})
	}
}

func TestDeny(t *testing.T) {
	e := setup(t)
	tok := e.mint(t, "bob", groups("orders-readers"))
	out, err := e.floor.Invoke(context.Background(), fixture.EventFor(fixture.Small, "DELETE", "/orders/42", tok))
	if err != nil {
		t.Fatal(err)
	}
	st := statements(response(t, out).PolicyDocument)
	if want := []string{arn + "DELETE/orders/42"}; !slices.Equal(st["Deny"], want) {
		t.Errorf("Deny %v, want %v", st["Deny"], want)
	}
	if len(st["Allow"]) != 4 {
		t.Errorf("Allow %v, want the reader's four grants", st["Allow"])
	}

	// A caller bound to nothing is denied everything but the public route.
	tok = e.mint(t, "mallory", groups("strangers"))
	out, err = e.floor.Invoke(context.Background(), fixture.Event(fixture.Small, tok))
	if err != nil {
		t.Fatal(err)
	}
	st = statements(response(t, out).PolicyDocument)
	if want := []string{arn + "GET/orders/42"}; !slices.Equal(st["Deny"], want) {
		t.Errorf("Deny %v, want %v", st["Deny"], want)
	}
	if want := []string{arn + "GET/health"}; !slices.Equal(st["Allow"], want) {
		t.Errorf("Allow %v, want %v", st["Allow"], want)
	}

	// Without a token, a public route is allowed and anything else is a 401.
	if _, err := e.floor.Invoke(context.Background(), fixture.EventFor(fixture.Small, "GET", "/health", "")); err != nil {
		t.Errorf("GET /health without a token: %v", err)
	}
	if _, err := e.floor.Invoke(context.Background(), fixture.Event(fixture.Small, "")); !errors.Is(err, floor.ErrUnauthorized) {
		t.Errorf("GET /orders/42 without a token: %v, want Unauthorized", err)
	}
}

func TestBadToken(t *testing.T) {
	e := setup(t)
	good := e.mint(t, "alice", groups("admins"))
	other, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	foreign := other.Claims("alice")
	foreign["iss"] = e.iss.URL // right issuer, wrong key
	forged, err := other.Mint(foreign, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	for name, tok := range map[string]string{
		"expired":        e.mint(t, "alice", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"wrong audience": e.mint(t, "alice", func(c map[string]any) { c["aud"] = "api://other" }),
		"wrong issuer":   e.mint(t, "alice", func(c map[string]any) { c["iss"] = "https://evil.example" }),
		"wrong key":      forged,
		"tampered":       parts[0] + "." + parts[1] + "x." + parts[2],
		"not a JWT":      "not-a-token",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := e.floor.Invoke(context.Background(), fixture.Event(fixture.Small, tok))
			if !errors.Is(err, floor.ErrUnauthorized) {
				t.Errorf("got %s, %v; want Unauthorized", out, err)
			}
		})
	}
}

// TestSameAllowAsTheProject holds the floor to the project: for the same event
// and token, the same Allow resources and the same Deny of the method ARN.
func TestSameAllowAsTheProject(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	project, err := fixture.Project(ctx, e.iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = project.Close(ctx) })
	type tc struct {
		name  string
		event []byte
	}
	cases := []tc{}
	for _, shape := range fixture.Shapes {
		cases = append(cases, tc{string(shape), fixture.Event(shape, fixture.MustMint(t, e.iss, shape))})
	}
	writer := e.mint(t, "w", groups("orders-writers"))
	admin := e.mint(t, "a", groups("admins"))
	scoped := e.mint(t, "s", func(c map[string]any) { c["scp"] = "orders:write" })
	cases = append(cases,
		tc{"reader deny", fixture.EventFor(fixture.Small, "DELETE", "/orders/42", fixture.MustMint(t, e.iss, fixture.Small))},
		tc{"writer put", fixture.EventFor(fixture.Realistic, "PUT", "/orders/42", writer)},
		tc{"writer get", fixture.EventFor(fixture.Realistic, "GET", "/orders/42", writer)},
		tc{"admin delete", fixture.EventFor(fixture.Small, "DELETE", "/admin/users", admin)},
		tc{"scope post", fixture.EventFor(fixture.Small, "POST", "/orders", scoped)},
		tc{"public", fixture.EventFor(fixture.Small, "GET", "/health", writer)},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := project.Invoke(ctx, c.event)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.floor.Invoke(ctx, c.event)
			if err != nil {
				t.Fatal(err)
			}
			w, g := response(t, want), response(t, got)
			ws, gs := statements(w.PolicyDocument), statements(g.PolicyDocument)
			if !slices.Equal(gs["Allow"], ws["Allow"]) {
				t.Errorf("Allow:\n floor   %v\n project %v", gs["Allow"], ws["Allow"])
			}
			// The project also denies the ambiguous forms of every path
			// (.../*%2f* and the like) beside the grants; the floor does not,
			// so only the Deny of the method ARN is compared.
			methodDenied := func(st map[string][]string, ev []byte) bool {
				var e struct {
					MethodArn string `json:"methodArn"`
				}
				_ = json.Unmarshal(ev, &e)
				return slices.Contains(st["Deny"], e.MethodArn)
			}
			if methodDenied(gs, c.event) != methodDenied(ws, c.event) {
				t.Errorf("Deny of the method ARN: floor %v, project %v", gs["Deny"], ws["Deny"])
			}
			if g.PrincipalID != w.PrincipalID {
				t.Errorf("principal: floor %q, project %q", g.PrincipalID, w.PrincipalID)
			}
			if g.Context["roles"] != w.Context["roles"] || g.Context["tenant"] != w.Context["tenant"] {
				t.Errorf("context: floor %v, project %v", g.Context, w.Context)
			}
		})
	}
}
