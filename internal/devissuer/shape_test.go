package devissuer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/identity"
)

// Every shape the dev issuer mints must verify under the matching profile and
// normalise to the principal it was minted for.
func TestMintForEveryProfile(t *testing.T) {
	p := devissuer.Principal{Subject: "alice", Groups: []string{"admins"}, Roles: []string{"Orders.Admin"},
		Scopes: []string{"orders:read", "orders:write"}, Client: "web"}
	for _, profile := range devissuer.Profiles {
		t.Run(profile, func(t *testing.T) {
			iss, err := devissuer.Start(devissuer.Options{Profile: profile})
			if err != nil {
				t.Fatal(err)
			}
			defer iss.Close()
			aud := iss.AcceptedAudience()
			if profile == "cognito" {
				aud = p.Client // Cognito access tokens are checked by client_id
			}
			v, err := identity.New([]identity.IssuerConfig{{Issuer: iss.URL, Profile: profile, Audiences: []string{aud},
				AccessTokenIssuer: iss.AccessTokenIssuer()}}, identity.Options{})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := iss.MintFor(p)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("%s token refused: %v", profile, err)
			}
			roles := p.Roles
			if profile == "cognito" {
				roles = []string{} // Cognito has no roles claim
			}
			got := []any{tok.Subject, tok.ClientID, tok.Groups, tok.Roles, tok.Scopes}
			want := []any{"alice", "web", p.Groups, roles, p.Scopes}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("normalised %v, want %v", got, want)
			}
		})
	}
	if _, err := devissuer.Start(devissuer.Options{Profile: "keycloak"}); err == nil {
		t.Fatal("an unknown profile was accepted")
	}
}

func TestMintEndpoint(t *testing.T) {
	iss, err := devissuer.Start(devissuer.Options{Profile: "okta", MintEndpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	body, _ := json.Marshal(devissuer.Principal{Subject: "bob", Groups: []string{"orders-readers"}})
	resp, err := http.Post(iss.URL[:len(iss.URL)-len("/oauth2/default")]+"/mint", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token, Issuer, Profile string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mint: %d %v", resp.StatusCode, err)
	}
	if out.Issuer != iss.URL || out.Profile != "okta" || out.Token == "" {
		t.Fatalf("mint answered %+v", out)
	}
	// What a web page could send, directly or by rebinding its name to 127.0.0.1.
	for _, tc := range []struct {
		name    string
		prepare func(*http.Request)
		want    int
	}{
		{"text/plain, which needs no preflight", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, http.StatusUnsupportedMediaType},
		{"from a page's origin", func(r *http.Request) { r.Header.Set("Origin", "http://attacker.example") }, http.StatusUnsupportedMediaType},
		{"for another host name", func(r *http.Request) { r.Host = "attacker.example" }, http.StatusMisdirectedRequest},
	} {
		req, _ := http.NewRequest("POST", iss.URL[:len(iss.URL)-len("/oauth2/default")]+"/mint", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		tc.prepare(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	closed, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	resp, err = http.Post(closed.URL+"/mint", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("the mint endpoint answered without MintEndpoint")
	}
}

// One issuer with AllProfiles mints every shape, each under its provider's
// issuer URL and all with the same keys, for several issuers side by side.
func TestAllProfilesSideBySide(t *testing.T) {
	iss, err := devissuer.Start(devissuer.Options{AllProfiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	var cfgs []identity.IssuerConfig
	for _, profile := range devissuer.Profiles {
		cfgs = append(cfgs, identity.IssuerConfig{Issuer: iss.IssuerFor(profile), Profile: profile,
			Audiences: []string{iss.AcceptedAudienceFor(profile)}, AccessTokenIssuer: iss.AccessTokenIssuerFor(profile)})
	}
	v, err := identity.New(cfgs, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, profile := range devissuer.Profiles {
		raw, err := iss.MintFor(devissuer.Principal{Profile: profile, Subject: "alice", Groups: []string{"admins"}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := v.Verify(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", profile, err)
		}
		if tok.Profile != profile || tok.Subject != "alice" || !reflect.DeepEqual(tok.Groups, []string{"admins"}) {
			t.Fatalf("%s: %+v", profile, tok)
		}
	}
	single, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	if _, err := single.MintFor(devissuer.Principal{Profile: "okta", Subject: "a"}); err == nil {
		t.Fatal("a single-profile issuer minted another profile's token")
	}
}

// payload decodes a compact JWS's claims, numbers as json.Number.
func payload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// An Entra v2 access token's aud is the API's application (client) id, a GUID;
// only v1 tokens carry an App ID URI such as api://default. The dev tokens must
// look like the v2 tokens they stand for, or a policy or an AUTHZ_ISSUERS
// written against them would not fit the real ones.
func TestEntraAudienceIsAnApplicationID(t *testing.T) {
	tests := []struct {
		name    string
		opts    devissuer.Options
		wantAud string // "" for a GUID
	}{
		{name: "an Entra issuer", opts: devissuer.Options{Profile: "entra"}},
		{name: "the Entra shape of an issuer of every shape", opts: devissuer.Options{AllProfiles: true}},
		{name: "an Entra issuer told its audience", opts: devissuer.Options{Profile: "entra", Audience: "api://orders"}, wantAud: "api://orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := devissuer.Start(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer iss.Close()
			raw, err := iss.MintFor(devissuer.Principal{Profile: "entra", Subject: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			c := payload(t, raw)
			aud, _ := c["aud"].(string)
			if tt.wantAud == "" && !guid.MatchString(aud) || tt.wantAud != "" && aud != tt.wantAud {
				t.Fatalf("aud %v, want %s", c["aud"], cmp.Or(tt.wantAud, "a GUID"))
			}
			if aud != iss.AcceptedAudienceFor("entra") || c["ver"] != "2.0" {
				t.Fatalf("aud %q, accepted audience %q, ver %v", aud, iss.AcceptedAudienceFor("entra"), c["ver"])
			}
		})
	}
	// The other shapes keep the issuer's audience.
	iss, err := devissuer.Start(devissuer.Options{AllProfiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	for _, profile := range []string{"generic", "okta", "adfs"} {
		raw, err := iss.MintFor(devissuer.Principal{Profile: profile, Subject: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if aud := payload(t, raw)["aud"]; aud != "api://default" || iss.AcceptedAudienceFor(profile) != "api://default" {
			t.Errorf("%s: aud %v, accepted %q", profile, aud, iss.AcceptedAudienceFor(profile))
		}
	}
}

// Principal.Claims are set last, over the shape's own claims, and reach the
// policy as issued; through /mint, numbers keep every digit.
func TestMintForExtraClaims(t *testing.T) {
	iss, err := devissuer.Start(devissuer.Options{Profile: "entra", MintEndpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	v, err := identity.New([]identity.IssuerConfig{{Issuer: iss.URL, Profile: "entra", Audiences: []string{iss.AcceptedAudience()}}}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := iss.MintFor(devissuer.Principal{Subject: "alice", Claims: map[string]any{
		"tier": "gold", "wids": []string{"62e90394-69f5-4237-9190-012177145e10"}, "scp": "Orders.Read Orders.Write"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claims["tier"] != "gold" || !reflect.DeepEqual(tok.Scopes, []string{"Orders.Read", "Orders.Write"}) ||
		!reflect.DeepEqual(tok.Claims["wids"], []any{"62e90394-69f5-4237-9190-012177145e10"}) {
		t.Fatalf("claims %v, scopes %v", tok.Claims, tok.Scopes)
	}

	body := []byte(`{"sub":"bob","claims":{"account":12345678901234567890,"flags":{"beta":true}}}`)
	resp, err := http.Post(iss.Origin()+"/mint", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mint: %d %v", resp.StatusCode, err)
	}
	c := payload(t, out.Token)
	if c["account"] != json.Number("12345678901234567890") || !reflect.DeepEqual(c["flags"], map[string]any{"beta": true}) || c["oid"] != "bob" {
		t.Fatalf("minted %v", c)
	}
}

// GET /issuers is an AUTHZ_ISSUERS under which every shape the issuer mints
// verifies, for a process of its own such as make lambda-local's function.
func TestIssuersEndpointTrustsEveryShape(t *testing.T) {
	iss, err := devissuer.Start(devissuer.Options{MintEndpoint: true, AllProfiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	resp, err := http.Get(iss.Origin() + "/issuers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /issuers: %d %v", resp.StatusCode, err)
	}
	cfgs, err := identity.ParseIssuers(body.String())
	if err != nil {
		t.Fatalf("AUTHZ_ISSUERS %s: %v", body.String(), err)
	}
	v, err := identity.New(cfgs, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, profile := range devissuer.Profiles {
		raw, err := iss.MintFor(devissuer.Principal{Profile: profile, Subject: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if tok, err := v.Verify(context.Background(), raw); err != nil || tok.Profile != profile {
			t.Errorf("%s: %v", profile, err)
		}
	}
	// Only an issuer that mints for other processes says how to trust it.
	quiet, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	if resp, err := http.Get(quiet.Origin() + "/issuers"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /issuers without MintEndpoint: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
