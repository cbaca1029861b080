package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
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
	if err != nil {
		return nil, fail(ReasonMalformed, "the header: %v", err)
	}
	if err := checkMembers("header", hb); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, headerTypeError(err)
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
	if err := checkMembers("payload", payload); err != nil {
		return nil, err
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		// checkMembers has read the same bytes as one valid JSON object.
		return nil, fail(ReasonMalformed, "encoding/json could not decode the payload")
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

var (
	errNotObject = errors.New("not a JSON object")
	// errNotBase64 replaces encoding/base64's error, which is fine as it is
	// ("illegal base64 data at input byte 12") but is one less library text to
	// vet for token bytes.
	errNotBase64 = errors.New("not unpadded base64url")
)

// decodeSegment decodes one base64url part that must hold a JSON object.
func decodeSegment(seg string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, errNotBase64
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, errNotObject
	}
	return b, nil
}

// maxDepth bounds the nesting of a token's header and payload. Real claims nest
// two or three levels; a 16 KiB token could otherwise nest thousands, and every
// parser that reads the claims after us, the policy engine included, would
// recurse that deep.
const maxDepth = 64

// checkMembers reads part ("header" or "payload"), the decoded bytes of one
// token segment, once, before anything else decodes them, and refuses what two
// JSON parsers may read differently:
//
//   - A member name that repeats in any object, at any depth, names compared
//     once unescaped ("a" and "\u0061" are one name). RFC 7515 lets a parser
//     keep the last value, which encoding/json does, or refuse; others keep the
//     first. A token whose kid, iss or exp is one thing to us and another to the
//     next reader is the classic JWT bypass.
//   - At the top level, two names that differ only in case (Unicode simple
//     folding: the Kelvin sign is a K). encoding/json matches struct fields
//     without regard to case, and two structs read these objects: our header
//     struct (alg, kid, typ, ...) and go-oidc's claims struct (iss, sub, aud,
//     exp, iat, nbf, nonce). Maps are matched exactly: go-jose reads the header
//     into one, and our claims are one. With {"kid":"a","KID":"b"} or
//     {"iss":"a","ISS":"b"} the struct keeps the last of the two, the map the
//     exact one, and the two halves of the verifier disagree. Nested objects
//     are read into maps, but for go-oidc's _claim_sources, which nothing here
//     uses: case variants there are distinct names.
//   - Invalid UTF-8, and escapes of lone surrogates: encoding/json turns both
//     into U+FFFD, so "a\xff" and "a\xfe" would become one name after this
//     check had seen two.
//   - Nesting deeper than maxDepth, and anything after the object.
//
// Its messages say which part and what is wrong, and where, but never repeat a
// name or a value: they are the token author's bytes, and they go to the logs.
func checkMembers(part string, b []byte) error {
	// jsontext (standard library since Go 1.27's JSON v2) refuses repeated
	// names and invalid UTF-8 unless told otherwise.
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	folded := map[string]bool{} // the top-level names, case folded
	for {
		before := dec.InputOffset()
		tok, err := dec.ReadToken()
		if err != nil {
			return jsonError(part, b, err)
		}
		depth := dec.StackDepth()
		switch tok.Kind() {
		case '{', '[':
			if depth > maxDepth {
				return fail(ReasonMalformed, "the %s nests deeper than %d levels", part, maxDepth)
			}
		case '"':
			// In the top-level object, after an odd count of tokens: a name.
			if kind, n := dec.StackIndex(depth); depth == 1 && kind == '{' && n%2 == 1 {
				name := foldCase(tok.String())
				if folded[name] {
					at := before + int64(bytes.IndexByte(b[before:], '"'))
					return fail(ReasonMalformed, "the %s has two member names that differ only in case, the second at byte %d", part, at)
				}
				folded[name] = true
			}
		}
		if depth == 0 {
			break
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return fail(ReasonMalformed, "the %s has data after its JSON object", part)
	}
	return nil
}

// jsonError words an error of jsontext, whose text quotes the repeated name or
// the character it stopped at.
func jsonError(part string, b []byte, err error) error {
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syn):
		return fail(ReasonMalformed, "the %s repeats a member name, the second at byte %d", part, syn.ByteOffset)
	case !utf8.Valid(b):
		return fail(ReasonMalformed, "the %s is not valid UTF-8", part)
	case errors.As(err, &syn):
		return fail(ReasonMalformed, "the %s is not valid JSON (at byte %d)", part, syn.ByteOffset)
	default:
		return fail(ReasonMalformed, "the %s is not valid JSON", part)
	}
}

// foldCase maps every character of s to the least of the characters that equal
// it without regard to case, so that names encoding/json would match to one
// struct field map to one string.
func foldCase(s string) string {
	var out strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		out.WriteRune(least)
	}
	return out.String()
}

// headerFields are the header members inspect decodes into a struct. Only
// alg, kid, typ and cty can have the wrong type; the others are kept raw.
var headerFields = []string{"alg", "kid", "typ", "cty"}

// headerTypeError words encoding/json's error for a header member of the wrong
// type. Its text names the member as the token spells it ("Go struct field
// .KID"), which is the token's, so the name is given as ours.
func headerTypeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		for _, f := range headerFields {
			if strings.EqualFold(te.Field, f) {
				return fail(ReasonMalformed, "the header's %s is not a string", f)
			}
		}
	}
	return fail(ReasonMalformed, "encoding/json could not decode the header")
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
