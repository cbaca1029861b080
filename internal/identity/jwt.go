package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// MaxTokenBytes is the largest token accepted. Real access tokens with many groups
// stay well under it; anything larger is refused before any decoding.
const MaxTokenBytes = 16 << 10

// unverified is a token read but not yet verified: its header, and its payload
// as bytes and as claims. Every check that needs no key runs on it, so that a
// token meant for someone else costs no signature check. Its claims become the
// verified claims only once the signature check has returned these same payload
// bytes.
type unverified struct {
	alg, kid, typ string
	// headerNonce is set when the header has a nonce, as Microsoft Graph's
	// tokens do.
	headerNonce bool
	payload     []byte
	claims      map[string]any
}

// inspect checks that raw is a compact JWS, header.payload.signature, each part
// unpadded base64url, and reads its header and claims.
func inspect(raw string) (*unverified, error) {
	if len(raw) > MaxTokenBytes {
		return nil, fail(ReasonMalformed, "the token has %d bytes, over the %d-byte limit", len(raw), MaxTokenBytes)
	}
	if strings.HasPrefix(strings.TrimSpace(raw), "{") {
		return nil, fail(ReasonMalformed, "the token is in the JWS JSON serialization; only the compact one is accepted")
	}
	parts := strings.Split(raw, ".")
	switch {
	case len(parts) == 5:
		return nil, fail(ReasonEncrypted, "the token has 5 parts: an encrypted JWE, which is not accepted")
	case len(parts) != 3:
		return nil, fail(ReasonMalformed, "the token has %d parts, not 3 (header.payload.signature)", len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return nil, fail(ReasonMalformed, "part %d of the token is empty", i+1)
		}
		if c, ok := badBase64URL(p); ok {
			return nil, fail(ReasonMalformed, "part %d of the token has %s, not unpadded base64url", i+1, c)
		}
	}
	var header struct {
		Alg   string          `json:"alg"`
		Kid   string          `json:"kid"`
		Typ   string          `json:"typ"`
		Cty   string          `json:"cty"`
		Nonce json.RawMessage `json:"nonce"`
		Crit  json.RawMessage `json:"crit"`
		Jku   json.RawMessage `json:"jku"`
		Jwk   json.RawMessage `json:"jwk"`
		X5u   json.RawMessage `json:"x5u"`
		Enc   json.RawMessage `json:"enc"`
		Zip   json.RawMessage `json:"zip"`
		B64   json.RawMessage `json:"b64"`
	}
	hb, err := decodeSegment(parts[0])
	if err == nil {
		err = json.Unmarshal(hb, &header)
	}
	if err != nil {
		return nil, fail(ReasonMalformed, "the header: %v", err)
	}
	switch {
	case header.Enc != nil || header.Zip != nil:
		return nil, fail(ReasonEncrypted, "the header has enc or zip: a JWE, which is not accepted")
	case strings.EqualFold(header.Cty, "JWT"):
		return nil, fail(ReasonHeader, "the token is nested (cty JWT), which is not accepted")
	case header.Jku != nil:
		// Keys come from the issuer's key set only, never from the token.
		return nil, fail(ReasonHeader, "the header names its own key set (jku)")
	case header.Jwk != nil:
		return nil, fail(ReasonHeader, "the header carries its own key (jwk)")
	case header.X5u != nil:
		return nil, fail(ReasonHeader, "the header names its own certificate (x5u)")
	case header.Crit != nil:
		return nil, fail(ReasonHeader, "the header has crit, and this verifier supports no critical extension")
	case header.B64 != nil:
		return nil, fail(ReasonHeader, "the header has b64 (unencoded payload), which is not supported")
	case header.Alg == "":
		return nil, fail(ReasonMalformed, "the header has no alg")
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fail(ReasonMalformed, "the payload: %v", err)
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fail(ReasonMalformed, "the payload: %v", err)
	}
	if dec.More() {
		return nil, fail(ReasonMalformed, "the payload has data after its JSON object")
	}
	return &unverified{
		alg: header.Alg, kid: header.Kid, typ: header.Typ, headerNonce: header.Nonce != nil,
		payload: payload, claims: claims,
	}, nil
}

// badBase64URL names the first character of s outside the base64url alphabet.
func badBase64URL(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			continue
		}
		switch c {
		case '=':
			return "padding", true
		case ' ', '\t', '\r', '\n':
			return "white space", true
		case '+', '/':
			return "standard base64", true
		default:
			return "a character outside base64url", true
		}
	}
	return "", false
}

var errNotObject = errors.New("not a JSON object")

// decodeSegment decodes one base64url part that must hold a JSON object.
func decodeSegment(seg string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, errNotObject
	}
	return b, nil
}

// stringClaim reads a claim that must be a string when present.
func stringClaim(claims map[string]any, name string) (string, error) {
	v, ok := claims[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fail(ReasonClaims, "%s is not a string", name)
	}
	return s, nil
}

// audienceClaim reads aud: a string or an array of strings.
func audienceClaim(claims map[string]any) ([]string, error) {
	switch v := claims["aud"].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fail(ReasonClaims, "aud holds a value that is not a string")
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fail(ReasonClaims, "aud is neither a string nor an array of strings")
	}
}
