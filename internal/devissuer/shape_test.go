package devissuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
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
