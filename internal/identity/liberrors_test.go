package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// marker is planted in tokens whose header or payload reaches an error of
// go-jose, go-oidc or encoding/json that quotes what it could not read.
const marker = "ZZMARKERZZ"

// assertNoTokenBytes fails if msg repeats the marker or any run of 8 characters
// of the token: a log line must not carry what the token's author wrote.
func assertNoTokenBytes(t *testing.T, msg, token string) {
	t.Helper()
	if strings.Contains(msg, marker) {
		t.Fatalf("the message repeats the token's %s: %s", marker, msg)
	}
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(msg, token[i:i+8]) {
			t.Fatalf("the message repeats %q of the token: %s", token[i:i+8], msg)
		}
	}
}

// TestLibraryErrorsRepeatNoTokenBytes sends tokens through Verify that reach each
// library error known to quote the token, and checks that the message keeps the
// cause (which library, what failed) and drops the bytes.
func TestLibraryErrorsRepeatNoTokenBytes(t *testing.T) {
	raw := startRawIssuer(t)
	cfg := raw.config()
	cfg.AcceptIDTokens = true // so that nonce and at_hash reach go-oidc
	v := newVerifier(t, Options{}, cfg)
	tests := []struct {
		name, header, payload string
		reason, detail        string
	}{
		// go-jose quotes a header value it cannot decode with %#v.
		{"header nonce not a string", `{"alg":"RS256","kid":"{kid}","nonce":{"` + marker + `":1}}`, rawClaims,
			ReasonMalformed, "go-jose: the header's nonce is not a string"},
		{"header x5c not base64", `{"alg":"RS256","kid":"{kid}","x5c":["` + marker + `"]}`, rawClaims,
			ReasonMalformed, "go-jose: the header's x5c is not a certificate chain"},
		{"header number out of range", `{"alg":"RS256","kid":"{kid}","x":{"` + marker + `":1e400}}`, rawClaims,
			ReasonMalformed, "go-jose: a header member holds a value it cannot decode"},
		{"header number out of range in an array", `{"alg":"RS256","kid":"{kid}","x":["` + marker + `",-1e999]}`, rawClaims,
			ReasonMalformed, "go-jose: a header member holds a value it cannot decode"},
		// encoding/json's type errors name the member as the token spells it.
		{"header KID beside kid, not a string", `{"alg":"RS256","kid":"{kid}","KID":{"` + marker + `":1}}`, rawClaims,
			ReasonMalformed, "the header has two member names that differ only in case"},
		{"header Kid alone, not a string", `{"alg":"RS256","Kid":["` + marker + `"]}`, rawClaims,
			ReasonMalformed, "the header's kid is not a string"},
		// encoding/json's syntax errors quote the character they stopped at.
		{"payload with a bare word", rawHeader, `{"iss":"{iss}",` + marker + `:1}`,
			ReasonMalformed, "the payload is not valid JSON"},
		// go-oidc decodes the signed claims into its own struct; encoding/json
		// names the map key on the path to a value of the wrong type.
		{"_claim_names value not a string", rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"a","exp":{exp},"_claim_names":{"` + marker + `":1}}`,
			ReasonMalformed, "go-oidc: the claim _claim_names has the wrong type"},
		{"_claim_sources value not an object", rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"a","exp":{exp},"_claim_sources":{"` + marker + `":"x"}}`,
			ReasonMalformed, "go-oidc: the claim _claim_sources has the wrong type"},
		{"_claim_names naming no source", rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"a","exp":{exp},"_claim_names":{"groups":"` + marker + `"}}`,
			ReasonMalformed, "go-oidc: _claim_names names a source that _claim_sources lacks"},
		{"sub not a string", rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":{"` + marker + `":1},"exp":{exp}}`,
			ReasonMalformed, "go-oidc: the claim sub has the wrong type"},
		{"at_hash not a string", rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"a","exp":{exp},"at_hash":["` + marker + `"]}`,
			ReasonMalformed, "go-oidc: the claim at_hash has the wrong type"},
		// go-oidc quotes the iss it read, which a case variant made differ from ours.
		{"ISS read by go-oidc alone", rawHeader, `{"iss":"{iss}","aud":"{aud}","sub":"a","exp":{exp},"ISS":"` + marker + `"}`,
			ReasonMalformed, "the payload has two member names that differ only in case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := raw.sign(t, tt.header, tt.payload)
			tok, err := v.Verify(context.Background(), token)
			if err == nil {
				t.Fatalf("accepted: %+v", tok)
			}
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("refused with %v, want %s and %q", err, tt.reason, tt.detail)
			}
			assertNoTokenBytes(t, err.Error(), token)
		})
	}
}

// TestKeySetErrorsRepeatNoTokenBytes calls the key set as go-oidc does, with
// tokens go-jose cannot parse: its errors quote the header.
func TestKeySetErrorsRepeatNoTokenBytes(t *testing.T) {
	raw := startRawIssuer(t)
	ks := &keySet{url: raw.URL + "/keys", client: http.DefaultClient, cooldown: time.Second, maxAge: time.Hour,
		now: time.Now, log: slog.New(slog.DiscardHandler)}
	tests := []struct{ name, header, detail string }{
		{"alg not accepted", `{"alg":"` + marker + `"}`, "go-jose: the header's alg is not an accepted algorithm"},
		{"alg not a string", `{"alg":["` + marker + `"]}`, "go-jose: the header's alg is not an accepted algorithm"},
		{"kid not a string", `{"alg":"RS256","kid":{"` + marker + `":1}}`, "go-jose: the header's kid is not a string"},
		{"nonce not a string", `{"alg":"RS256","nonce":["` + marker + `"]}`, "go-jose: the header's nonce is not a string"},
		{"x5c not base64", `{"alg":"RS256","x5c":["` + marker + `"]}`, "go-jose: the header's x5c is not a certificate chain"},
		{"x5c not an array", `{"alg":"RS256","x5c":{"` + marker + `":1}}`, "go-jose: the header's x5c is not a certificate chain"},
		{"number out of range", `{"alg":"RS256","` + marker + `":{"` + marker + `":1e400}}`, "go-jose: a header member holds a value it cannot decode"},
		{"jwk not a key", `{"alg":"RS256","jwk":{"kty":"` + marker + `"}}`, "go-jose: the header's jwk is not a public key"},
		{"header not an object", `["` + marker + `"]`, "go-jose: the header is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := raw.sign(t, tt.header, rawClaims)
			_, err := ks.VerifySignature(context.Background(), token)
			if ReasonOf(err) != ReasonMalformed || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("refused with %v, want %s and %q", err, ReasonMalformed, tt.detail)
			}
			assertNoTokenBytes(t, err.Error(), token)
		})
	}
	if n := len(ks.keys); n != 0 {
		t.Fatalf("a token go-jose cannot parse fetched %d keys", n)
	}
}

// TestOIDCErrorsBehindOurChecks maps go-oidc's errors that Verify's own checks
// keep tokens from reaching, produced by go-oidc itself so that a new wording in
// a later version fails here rather than falling through unnoticed.
func TestOIDCErrorsBehindOurChecks(t *testing.T) {
	const iss = "https://issuer.example"
	ov := oidc.NewVerifier(iss, &oidc.StaticKeySet{}, &oidc.Config{
		SkipClientIDCheck: true, SupportedSigningAlgs: []string{"RS256"},
		// The payload is all that matters here; Verify never skips the check.
		InsecureSkipSignatureCheck: true,
	})
	now := time.Now().Unix()
	tests := []struct{ name, header, payload, reason, detail string }{
		{"an iss other than ours", `{"alg":"RS256"}`, fmt.Sprintf(`{"iss":%q,"ISS":"%s","exp":%d}`, iss, marker, now+3600),
			ReasonMalformed, "go-oidc: it read an iss other than the one this verifier read"},
		{"nbf beyond go-oidc's leeway", `{"alg":"RS256"}`, fmt.Sprintf(`{"iss":%q,"nbf":%d,"exp":%d,"%s":1}`, iss, now+3600, now+7200, marker),
			ReasonNotYetValid, "go-oidc: nbf is in the future"},
		{"exp a string", `{"alg":"RS256"}`, fmt.Sprintf(`{"iss":%q,"exp":"%s"}`, iss, marker),
			ReasonMalformed, "go-oidc: a registered claim has the wrong type"},
		{"SUB not a string", `{"alg":"RS256"}`, fmt.Sprintf(`{"iss":%q,"exp":%d,"SUB":["%s"]}`, iss, now+3600, marker),
			ReasonMalformed, "go-oidc: the claim sub has the wrong type"},
		{"an empty claim source", `{"alg":"RS256"}`, fmt.Sprintf(`{"iss":%q,"exp":%d,"_claim_names":{"%s":""}}`, iss, now+3600, marker),
			ReasonMalformed, "go-oidc: _claim_names names an empty source"},
		{"alg not accepted", fmt.Sprintf(`{"alg":"%s"}`, marker), fmt.Sprintf(`{"iss":%q}`, iss),
			ReasonMalformed, "go-jose: the header's alg is not an accepted algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := b64([]byte(tt.header)) + "." + b64([]byte(tt.payload)) + "." + b64([]byte("signature"))
			_, libErr := ov.Verify(context.Background(), token)
			if libErr == nil {
				t.Fatal("go-oidc accepted the token")
			}
			err := oidcError(libErr)
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("go-oidc's %q became %v, want %s and %q", libErr, err, tt.reason, tt.detail)
			}
			assertNoTokenBytes(t, err.Error(), token)
		})
	}
}

// TestUnknownLibraryErrorsSayOnlyWhichLibrary checks the fall-back for a text no
// table knows, as a later version of a library may write.
func TestUnknownLibraryErrorsSayOnlyWhichLibrary(t *testing.T) {
	tests := []struct {
		name string
		got  *Error
		want string
	}{
		{"go-oidc", oidcError(errors.New("oidc: a new check failed on " + marker)), "go-oidc: an error this verifier does not know"},
		{"go-jose through go-oidc", oidcError(errors.New("oidc: malformed jwt: go-jose/go-jose: new " + marker)), "go-jose: an error this verifier does not know"},
		{"go-jose", joseError(errors.New("failed to unmarshal something new: " + marker)), "go-jose: an error this verifier does not know"},
		{"go-oidc's claims", oidcError(errors.New("oidc: failed to unmarshal claims: json: " + marker)), "go-oidc: a registered claim has the wrong type"},
		{"a field go-oidc does not have", oidcError(errors.New("oidc: failed to unmarshal claims: json: cannot unmarshal number into Go struct field idToken." + marker + " of type string")), "go-oidc: a registered claim has the wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Reason != ReasonMalformed || !strings.Contains(tt.got.Error(), tt.want) || strings.Contains(tt.got.Error(), marker) {
				t.Fatalf("%v, want %s and %q, without %s", tt.got, ReasonMalformed, tt.want, marker)
			}
		})
	}
}
