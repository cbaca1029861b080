package identity

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzVerify signs arbitrary header and payload texts with the issuer's own
// key, and sometimes changes one byte of the result. Whatever the texts:
// nothing panics; a token that verifies carries the issuer's iss, an
// accepted aud and an exp in the future; a changed token verifies only if
// it still decodes to the very bytes that were signed; and no error quotes
// the token.
func FuzzVerify(f *testing.F) {
	r := startRawIssuer(f)
	v := newVerifier(f, Options{TokenCacheSize: -1}, r.config())
	for _, seed := range []struct{ header, payload string }{
		{rawHeader, rawClaims},
		{`{"alg":"RS256","kid":"{kid}","typ":"at+jwt"}`, rawClaims},
		{`{"alg":"none"}`, rawClaims},
		{`{"alg":"HS256","kid":"{kid}"}`, rawClaims},
		{`{"alg":"RS256","kid":"{kid}","jku":"https://evil.example"}`, rawClaims},
		{rawHeader, `{"iss":"{iss}","aud":"{aud}","exp":{past}}`},
		{rawHeader, `{"iss":"https://other.example","aud":"{aud}","exp":{exp}}`},
		{rawHeader, `{"iss":"{iss}","iss":"https://other.example","aud":"{aud}","exp":{exp}}`},
		{rawHeader, `{"iss":"{iss}","aud":["x","{aud}"],"exp":{exp},"nbf":{exp}}`},
		{rawHeader, `[]`},
	} {
		for _, flip := range []uint16{0, 5, 40, 300} {
			f.Add(seed.header, seed.payload, flip, byte(1))
		}
	}
	f.Fuzz(func(t *testing.T, header, payload string, flip uint16, xor byte) {
		signed := r.sign(t, header, payload)
		tok := signed
		if flip > 0 && xor != 0 {
			b := []byte(signed)
			b[int(flip)%len(b)] ^= xor
			tok = string(b)
		}
		got, err := v.Verify(context.Background(), tok)
		if err != nil {
			if len(tok) > 24 && strings.Contains(err.Error(), tok) {
				t.Fatalf("the error quotes the token: %v", err)
			}
			return
		}
		if got.Issuer != r.URL || !slices.Contains(got.Audience, rawAudience) || got.ExpiresAt <= time.Now().Unix() {
			t.Fatalf("verified with iss %q, aud %v, exp %d", got.Issuer, got.Audience, got.ExpiresAt)
		}
		if tok != signed && !sameSegments(t, tok, signed) {
			t.Fatalf("a changed token verified:\n%s\nsigned:\n%s", tok, signed)
		}
	})
}

// sameSegments says whether two compact JWS decode to the same bytes, part
// by part (a base64url text can have unused bits).
func sameSegments(t *testing.T, a, b string) bool {
	t.Helper()
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range 3 {
		da, err1 := base64.RawURLEncoding.DecodeString(pa[i])
		db, err2 := base64.RawURLEncoding.DecodeString(pb[i])
		if err1 != nil || err2 != nil || string(da) != string(db) {
			return false
		}
	}
	return true
}

// FuzzParseKeySet: whatever a key set server sends, parsing it does not
// panic, and what it keeps are public, asymmetric keys.
func FuzzParseKeySet(f *testing.F) {
	r := startRawIssuer(f)
	f.Add(*r.set.Load())
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLv0aVbIjjUdDMn3o3Jb6w"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, err := parseKeySet(body)
		if err != nil {
			return
		}
		for _, k := range keys {
			if !k.IsPublic() || !k.Valid() {
				t.Fatalf("a key that is not a valid public key: %+v", k)
			}
			if _, ok := k.Key.([]byte); ok {
				t.Fatalf("a symmetric key: %+v", k)
			}
		}
	})
}
