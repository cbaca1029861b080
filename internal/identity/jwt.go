package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// MaxTokenBytes is the largest token accepted. Real access tokens with many groups
// stay well under it; anything larger is refused before any decoding.
const MaxTokenBytes = 16 << 10

// unverified is what the verifier reads from a token before checking its
// signature: enough to choose the issuer and refuse what needs no key. Nothing in
// it is trusted; the verified claims are read again from the signed payload.
type unverified struct {
	alg, kid, typ string
	iss           string
	aud           audience
}

// inspect checks that raw is a compact JWS, header.payload.signature, each part
// unpadded base64url, and reads its header and routing claims.
func inspect(raw string) (*unverified, error) {
	if len(raw) > MaxTokenBytes {
		return nil, fail(ReasonMalformed, "the token has %d bytes, over the %d-byte limit", len(raw), MaxTokenBytes)
	}
	parts := strings.Split(raw, ".")
	switch {
	case len(parts) == 5:
		return nil, fail(ReasonMalformed, "the token has 5 parts: an encrypted JWE, which is not accepted")
	case len(parts) != 3:
		return nil, fail(ReasonMalformed, "the token has %d parts, not 3 (header.payload.signature)", len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return nil, fail(ReasonMalformed, "part %d of the token is empty", i+1)
		}
		if !isBase64URL(p) {
			return nil, fail(ReasonMalformed, "part %d of the token is not unpadded base64url", i+1)
		}
	}
	var header struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Typ  string          `json:"typ"`
		Cty  string          `json:"cty"`
		Crit json.RawMessage `json:"crit"`
		Jku  json.RawMessage `json:"jku"`
		Jwk  json.RawMessage `json:"jwk"`
		X5u  json.RawMessage `json:"x5u"`
		Enc  json.RawMessage `json:"enc"`
		Zip  json.RawMessage `json:"zip"`
		B64  json.RawMessage `json:"b64"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fail(ReasonMalformed, "the header: %v", err)
	}
	switch {
	case header.Enc != nil || header.Zip != nil:
		return nil, fail(ReasonMalformed, "the header has enc or zip: a JWE, which is not accepted")
	case header.Jku != nil || header.Jwk != nil || header.X5u != nil:
		// Keys come from the issuer's key set only, never from the token.
		return nil, fail(ReasonHeader, "the header names its own key (jku, jwk or x5u)")
	case header.Crit != nil || header.B64 != nil:
		return nil, fail(ReasonHeader, "the header has crit or b64, which this verifier does not support")
	case strings.EqualFold(header.Cty, "JWT"):
		return nil, fail(ReasonHeader, "the token is nested (cty JWT), which is not accepted")
	case header.Alg == "":
		return nil, fail(ReasonMalformed, "the header has no alg")
	}
	var claims struct {
		Iss string          `json:"iss"`
		Aud audience        `json:"aud"`
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fail(ReasonMalformed, "the payload: %v", err)
	}
	for name, v := range map[string]json.RawMessage{"exp": claims.Exp, "nbf": claims.Nbf, "iat": claims.Iat} {
		if v != nil && string(v) != "null" && !isJSONNumber(v) {
			return nil, fail(ReasonClaims, "%s is not a number", name)
		}
	}
	return &unverified{alg: header.Alg, kid: header.Kid, typ: header.Typ, iss: claims.Iss, aud: claims.Aud}, nil
}

func isJSONNumber(b []byte) bool {
	var n json.Number
	return json.Unmarshal(b, &n) == nil && len(b) > 0 && b[0] != '"'
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// decodeSegment decodes one base64url part holding a JSON object.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(b, v)
}

// audience is aud: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errAudience
	}
	*a = many
	return nil
}
