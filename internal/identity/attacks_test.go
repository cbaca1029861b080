package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// TestAttackTokens is the corpus of crafted tokens. Several issuers of several
// profiles are configured side by side, as in production; every token must be
// refused, with its own reason and a message that says what was wrong and never
// repeats the token.
func TestAttackTokens(t *testing.T) {
	const (
		tenant      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		otherTenant = "0d5e8a3c-1111-4222-8333-944455556666"
	)
	rs := startIssuer(t, "RS256")
	es := startIssuer(t, "ES256")
	entra, err := devissuer.Start(devissuer.Options{Path: "/" + tenant + "/v2.0", Audience: "api://orders"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { entra.Close() })
	okta, err := devissuer.Start(devissuer.Options{Path: "/oauth2/default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { okta.Close() })
	clients := startIssuer(t, "RS256")
	raw := startRawIssuer(t)
	entraTemplate := strings.Replace(entra.URL, tenant, "{tenantid}", 1)

	v := newVerifier(t, Options{},
		IssuerConfig{Issuer: rs.URL, Audiences: []string{rs.Audience()}, Algorithms: []string{"RS256", "ES256"}},
		IssuerConfig{Issuer: es.URL, Audiences: []string{es.Audience()}, Algorithms: []string{"ES256"}},
		IssuerConfig{Issuer: entraTemplate, Profile: "entra", Audiences: []string{"api://orders"}, Tenants: []string{tenant}, JWKSURI: entra.JWKSURL()},
		IssuerConfig{Issuer: okta.URL, Profile: "okta", Audiences: []string{okta.Audience()}},
		IssuerConfig{Issuer: clients.URL, Audiences: []string{clients.Audience()}, Clients: []string{"good-client"}},
		raw.config(),
	)
	ctx := context.Background()
	now := time.Now()

	// Fetch the RS256 key set once, so that kid below is a known one.
	valid := mint(t, rs, rs.Claims("alice"))
	if _, err := v.Verify(ctx, valid); err != nil {
		t.Fatal(err)
	}
	keys, _ := v.byIssuer[rs.URL].keys.current()
	kid := keys[0].KeyID
	pubDER, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	claims := func(iss *devissuer.Issuer, change func(c map[string]any)) map[string]any {
		c := iss.Claims("alice")
		if change != nil {
			change(c)
		}
		return c
	}
	rsClaims := func(change func(c map[string]any)) map[string]any { return claims(rs, change) }
	entraClaims := func(change func(c map[string]any)) map[string]any {
		return claims(entra, func(c map[string]any) {
			c["tid"], c["scp"], c["azp"], c["oid"] = tenant, "Orders.Read", "client-1", "oid-1"
			if change != nil {
				change(c)
			}
		})
	}
	mintWith := func(iss *devissuer.Issuer, c map[string]any, header map[string]any) string {
		tok, err := iss.Mint(c, header)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hs256 := func(in []byte) []byte {
		m := hmac.New(sha256.New, pubDER)
		m.Write(in)
		return m.Sum(nil)
	}
	// repeated signs a token whose header or payload repeats a member name, the
	// span in «…», after checking that the token verifies without that span:
	// only the refusal of repeated names stands between it and any parser that
	// keeps the first value where encoding/json keeps the last.
	repeated := func(header, payload string) string {
		hWith, hWithout := withAndWithout(header)
		pWith, pWithout := withAndWithout(payload)
		if _, err := v.Verify(ctx, raw.sign(t, hWithout, pWithout)); err != nil {
			t.Fatalf("without the repeated name (%s %s): %v", hWithout, pWithout, err)
		}
		return raw.sign(t, hWith, pWith)
	}
	esKid := func() string {
		tok := mint(t, es, es.Claims("x"))
		return strings.Split(strings.Split(mustHeader(t, tok), `"kid":"`)[1], `"`)[0]
	}()

	tests := []struct {
		name, token, reason, detail string
		// sameAs names an earlier case no log can tell from this one: a
		// signature that does not verify says nothing of why.
		sameAs string
	}{
		// Algorithms.
		{"alg none without a signature", withoutSignature(craft(t, map[string]any{"alg": "none"}, rsClaims(nil), nil)), ReasonMalformed, "part 3 of the token is empty", ""},
		{"alg none with a signature", craft(t, map[string]any{"alg": "none", "kid": kid}, rsClaims(nil), nil), ReasonAlgorithm, `alg "none"`, ""},
		{"alg None", craft(t, map[string]any{"alg": "None", "kid": kid}, rsClaims(nil), nil), ReasonAlgorithm, `alg "None"`, ""},
		{"HS256 keyed with the RSA public key", craft(t, map[string]any{"alg": "HS256", "kid": kid}, rsClaims(nil), hs256), ReasonAlgorithm, `alg "HS256"`, ""},
		{"ES256 zero signature", craft(t, map[string]any{"alg": "ES256", "kid": esKid}, claims(es, nil), func([]byte) []byte { return make([]byte, 64) }), ReasonSignature, "does not verify", ""},
		{"ES256 signature of the wrong length", craft(t, map[string]any{"alg": "ES256", "kid": esKid}, claims(es, nil), func([]byte) []byte { return make([]byte, 10) }), ReasonSignature, "has 10 bytes, not 64", ""},
		// Keys named by the token.
		{"jwk header with the attacker's key", craft(t, map[string]any{"alg": "RS256", "jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, rsClaims(nil), rsaSigner(t, rogue)), ReasonHeader, "carries its own key (jwk)", ""},
		{"jku header", craft(t, map[string]any{"alg": "RS256", "kid": kid, "jku": "https://evil.example/keys"}, rsClaims(nil), rsaSigner(t, rogue)), ReasonHeader, "own key set (jku)", ""},
		{"x5u header", craft(t, map[string]any{"alg": "RS256", "kid": kid, "x5u": "https://evil.example/cert"}, rsClaims(nil), rsaSigner(t, rogue)), ReasonHeader, "own certificate (x5u)", ""},
		{"crit header", craft(t, map[string]any{"alg": "RS256", "kid": kid, "crit": []string{"exp"}}, rsClaims(nil), nil), ReasonHeader, "has crit", ""},
		{"unencoded payload (b64 false)", craft(t, map[string]any{"alg": "RS256", "kid": kid, "b64": false}, rsClaims(nil), nil), ReasonHeader, "has b64", ""},
		{"nested token", craft(t, map[string]any{"alg": "RS256", "kid": kid, "cty": "JWT"}, rsClaims(nil), nil), ReasonHeader, "nested", ""},
		{"unknown kid", craft(t, map[string]any{"alg": "RS256", "kid": "no-such-key"}, rsClaims(nil), rsaSigner(t, rogue)), ReasonUnknownKey, `no key "no-such-key"`, ""},
		{"injected kid (path)", craft(t, map[string]any{"alg": "RS256", "kid": "../../../../dev/null"}, rsClaims(nil), rsaSigner(t, rogue)), ReasonUnknownKey, `no key "../../../../dev/null"`, ""},
		{"injected kid (SQL)", craft(t, map[string]any{"alg": "RS256", "kid": "x' OR '1'='1"}, rsClaims(nil), rsaSigner(t, rogue)), ReasonUnknownKey, `no key "x' OR '1'='1"`, ""},
		{"huge kid", craft(t, map[string]any{"alg": "RS256", "kid": strings.Repeat("k", 4000)}, rsClaims(nil), rsaSigner(t, rogue)), ReasonUnknownKey, "kkkk…", ""},
		{"same kid, rogue key", craft(t, map[string]any{"alg": "RS256", "kid": kid}, rsClaims(nil), rsaSigner(t, rogue)), ReasonSignature, "does not verify", ""},
		{"payload swapped under a valid signature", parts[0] + "." + b64JSON(t, rsClaims(func(c map[string]any) { c["sub"] = "admin" })) + "." + parts[2], ReasonSignature, "does not verify", "same kid, rogue key"},
		{"signed by another issuer's key", mintWith(es, claims(es, func(c map[string]any) { c["iss"] = rs.URL; c["aud"] = rs.Audience() }), nil), ReasonUnknownKey, "no key", ""},
		// Times.
		{"expired", mint(t, rs, rsClaims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), ReasonExpired, "expired at", ""},
		{"missing exp", mint(t, rs, rsClaims(func(c map[string]any) { delete(c, "exp") })), ReasonExpired, "no exp", ""},
		{"exp as a string", mint(t, rs, rsClaims(func(c map[string]any) { c["exp"] = "tomorrow" })), ReasonClaims, "exp is not a number", ""},
		{"future nbf", mint(t, rs, rsClaims(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), ReasonNotYetValid, "not valid before", ""},
		{"future iat", mint(t, rs, rsClaims(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() })), ReasonNotYetValid, "issued in the future", ""},
		{"lifetime of a month", mint(t, rs, rsClaims(func(c map[string]any) { c["exp"] = now.Add(30 * 24 * time.Hour).Unix() })), ReasonLifetime, "more than 24h0m0s from now", ""},
		{"issued long ago, still valid", mint(t, rs, rsClaims(func(c map[string]any) { c["iat"] = now.Add(-48 * time.Hour).Unix() })), ReasonLifetime, "more than the 24h0m0s allowed", ""},
		// Issuer and audience.
		{"unknown iss", mint(t, rs, rsClaims(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), ReasonUnknownIssuer, `"https://evil.example.com" is not a configured issuer`, ""},
		{"iss with a trailing slash", mint(t, rs, rsClaims(func(c map[string]any) { c["iss"] = rs.URL + "/" })), ReasonUnknownIssuer, "is not a configured issuer", ""},
		{"iss not a string", mint(t, rs, rsClaims(func(c map[string]any) { c["iss"] = 7 })), ReasonClaims, "iss is not a string", ""},
		{"wrong aud", mint(t, rs, rsClaims(func(c map[string]any) { c["aud"] = "api://other" })), ReasonAudience, `aud "api://other"`, ""},
		{"null aud", mint(t, rs, rsClaims(func(c map[string]any) { c["aud"] = nil })), ReasonAudience, "no audience", ""},
		{"aud a number", mint(t, rs, rsClaims(func(c map[string]any) { c["aud"] = 1 })), ReasonClaims, "aud is neither", ""},
		{"client not allowed", mint(t, clients, claims(clients, func(c map[string]any) { c["client_id"] = "evil-client" })), ReasonClient, `client "evil-client"`, ""},
		{"no client where clients are listed", mint(t, clients, claims(clients, nil)), ReasonClient, `client ""`, ""},
		// Types.
		{"typ of a logout token", mintWith(rs, rsClaims(nil), map[string]any{"typ": "logout+jwt"}), ReasonType, `typ "logout+jwt"`, ""},
		{"an ID token where an access token is expected", mint(t, rs, rsClaims(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" })), ReasonType, "an ID token", ""},
		// Provider-specific.
		{"foreign Entra tenant", mint(t, entra, entraClaims(func(c map[string]any) {
			c["iss"], c["tid"] = strings.Replace(entra.URL, tenant, otherTenant, 1), otherTenant
		})), ReasonTenant, "is not in the tenants", ""},
		{"Entra tid differs from iss", mint(t, entra, entraClaims(func(c map[string]any) { c["tid"] = otherTenant })), ReasonTenant, "is not the tenant of iss", ""},
		{"Microsoft Graph token", mintWith(entra, entraClaims(nil), map[string]any{"nonce": "graph-nonce"}), ReasonForeign, "Microsoft Graph", ""},
		{"Okta org server access token", mint(t, okta, claims(okta, func(c map[string]any) {
			c["iss"], c["cid"] = strings.TrimSuffix(okta.URL, "/oauth2/default"), "0oa1"
		})), ReasonForeign, "org authorization server", ""},
		// Form.
		{"two parts", parts[0] + "." + parts[1], ReasonMalformed, "2 parts", ""},
		{"four parts", valid + ".x", ReasonMalformed, "4 parts", ""},
		{"five parts (JWE)", valid + ".x.y", ReasonEncrypted, "5 parts", ""},
		{"JWE header", craft(t, map[string]any{"alg": "RSA-OAEP", "enc": "A256GCM"}, rsClaims(nil), nil), ReasonEncrypted, "enc or zip", ""},
		{"padding", parts[0] + "==." + parts[1] + "." + parts[2], ReasonMalformed, "padding", ""},
		{"white space", parts[0] + ".\n" + parts[1] + "." + parts[2], ReasonMalformed, "white space", ""},
		{"standard base64", strings.ReplaceAll(valid, "_", "/") + "+", ReasonMalformed, "standard base64", ""},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ReasonMalformed, "JSON serialization", ""},
		{"oversized", craft(t, map[string]any{"alg": "RS256", "kid": kid}, rsClaims(func(c map[string]any) { c["pad"] = strings.Repeat("a", MaxTokenBytes) }), nil), ReasonMalformed, "over the 16384-byte limit", ""},
		{"header not an object", b64([]byte(`"RS256"`)) + "." + parts[1] + "." + parts[2], ReasonMalformed, "not a JSON object", ""},
		{"payload not an object", parts[0] + "." + b64([]byte(`[1]`)) + "." + parts[2], ReasonMalformed, "not a JSON object", ""},
		{"payload with trailing data", parts[0] + "." + b64([]byte(`{"iss":"x"} {"iss":"y"}`)) + "." + parts[2], ReasonMalformed, "after its JSON object", ""},
		{"not a token at all", "hello", ReasonMalformed, "1 parts", ""},
		// Repeated member names: encoding/json keeps the last value, other
		// parsers the first or neither.
		{"alg twice", repeated(`{«"alg":"none",»"alg":"RS256","kid":"{kid}"}`, rawClaims), ReasonMalformed, "the header repeats a member name", ""},
		{"kid twice", repeated(`{"alg":"RS256",«"kid":"no-such-key",»"kid":"{kid}"}`, rawClaims), ReasonMalformed, "the header repeats a member name", ""},
		{"iss twice", repeated(rawHeader, `{«"iss":"https://evil.example",»"iss":"{iss}","sub":"alice","aud":"{aud}","iat":{now},"exp":{exp}}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"aud twice", repeated(rawHeader, `{"iss":"{iss}",«"aud":"api://other",»"aud":"{aud}","sub":"alice","iat":{now},"exp":{exp}}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"exp twice", repeated(rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"alice","iat":{now},«"exp":{past},»"exp":{exp}}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"sub twice", repeated(rawHeader, `{"iss":"{iss}","aud":"{aud}",«"sub":"admin",»"sub":"alice","iat":{now},"exp":{exp}}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"sub twice, once escaped", repeated(rawHeader, `{"iss":"{iss}","aud":"{aud}","exp":{exp},«"\u0073ub":"admin",»"sub":"alice"}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"roles twice in a nested object", repeated(rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"alice","exp":{exp},"realm_access":{«"roles":["admin"],»"roles":["reader"]}}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"id twice in an object in an array", repeated(rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"alice","exp":{exp},"entitlements":[{"id":"a"},{«"id":"admin",»"id":"b"}]}`), ReasonMalformed, "the payload repeats a member name", ""},
		{"ISS beside iss", repeated(rawHeader, `{«"ISS":"https://evil.example",»"iss":"{iss}","sub":"alice","aud":"{aud}","exp":{exp}}`), ReasonMalformed, "the payload has two member names that differ only in case", ""},
		{"KID beside kid", repeated(`{"alg":"RS256",«"KID":"no-such-key",»"kid":"{kid}"}`, rawClaims), ReasonMalformed, "the header has two member names that differ only in case", ""},
		{"claims nested 65 deep", raw.sign(t, rawHeader, `{"iss":"{iss}","aud":"{aud}","exp":{exp},"x":`+strings.Repeat("[", 64)+strings.Repeat("]", 64)+`}`), ReasonMalformed, "nests deeper than 64 levels", ""},
	}
	seen := map[string]string{} // message → case
	for _, tt := range tests {
		tok, err := v.Verify(ctx, tt.token)
		t.Run(tt.name, func(t *testing.T) {
			if err == nil || tok != nil {
				t.Fatalf("accepted: %+v", tok)
			}
			if got := ReasonOf(err); got != tt.reason || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("refused with %q (%v), want %s and %q", got, err, tt.reason, tt.detail)
			}
			if len(err.Error()) > 600 {
				t.Fatalf("the message has %d bytes: attacker input must be cut", len(err.Error()))
			}
			for _, part := range strings.Split(tt.token, ".") {
				if len(part) > 40 && strings.Contains(err.Error(), part) {
					t.Fatalf("the message repeats part of the token: %v", err)
				}
			}
		})
		if err != nil {
			if other, dup := seen[err.Error()]; dup && other != tt.sameAs {
				t.Errorf("%q and %q are refused with the same message; the log could not tell them apart", tt.name, other)
			}
			seen[err.Error()] = tt.name
		}
	}
}

func withoutSignature(tok string) string { return tok[:strings.LastIndex(tok, ".")+1] }

// TestAttackTokensCostNoFetch checks that tokens meant for another API or issuer,
// stale or of the wrong kind, are refused without fetching a key set.
func TestAttackTokensCostNoFetch(t *testing.T) {
	iss := startIssuer(t, "RS256")
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}})
	for _, change := range []func(map[string]any){
		func(c map[string]any) { c["aud"] = "api://other" },
		func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() },
		func(c map[string]any) { c["nonce"] = "id-token" },
		func(c map[string]any) { c["iss"] = "https://elsewhere.example" },
	} {
		c := iss.Claims("a")
		change(c)
		if _, err := v.Verify(context.Background(), mint(t, iss, c)); err == nil {
			t.Fatal("accepted")
		}
	}
	if n := iss.KeySetFetches(); n != 0 {
		t.Fatalf("%d key set fetches for tokens refused on their claims", n)
	}
}
