package identity

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
)

// Reasons are the stable codes of verification failures. They become the decision
// log's reason and may be alerted on; they never change meaning.
const (
	ReasonMalformed     = "token_malformed"      // not a compact JWS: parts, encoding, size, JSON
	ReasonEncrypted     = "token_encrypted"      // a JWE (five parts, enc or zip)
	ReasonScheme        = "token_scheme"         // an Authorization scheme other than Bearer
	ReasonUnknownIssuer = "token_unknown_issuer" // iss is not configured
	ReasonAlgorithm     = "token_algorithm"      // alg is not allowed for the issuer: none, HS256, ...
	ReasonHeader        = "token_header"         // a header this verifier refuses: jku, jwk, x5u, crit, b64, cty JWT
	ReasonType          = "token_type"           // typ, or an ID token where an access token is expected
	ReasonForeign       = "token_foreign"        // meant for someone else: Graph, Okta's org server
	ReasonUnknownKey    = "token_unknown_key"    // no key of the issuer's set has the token's kid
	ReasonSignature     = "token_signature"      // the signature does not verify
	ReasonExpired       = "token_expired"        // exp is in the past, or missing
	ReasonNotYetValid   = "token_not_yet_valid"  // nbf or iat is in the future
	ReasonLifetime      = "token_lifetime"       // exp is further from iat, or from now, than allowed
	ReasonAudience      = "token_audience"       // no aud is an accepted audience
	ReasonTenant        = "token_tenant"         // the tenant is not allowed or does not match iss
	ReasonClient        = "token_client"         // the client (azp, cid, client_id, appid) is not allowed
	ReasonClaims        = "token_claims"         // a registered claim has the wrong type
	ReasonUnavailable   = "idp_unavailable"      // discovery or keys could not be fetched
)

// Error is a verification failure. Its message names what failed and never
// contains the token.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// Err is the underlying cause.
	Err error
}

func (e *Error) Error() string { return "identity: " + e.Reason + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Unavailable reports whether err means the identity provider could not be
// reached, which is no fault of the token: the request is denied, not sent back
// to authenticate.
func Unavailable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == ReasonUnavailable
}

// ReasonOf returns the reason code of a verification error, or "" if err is not one.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func fail(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// go-jose, go-oidc and encoding/json put bytes of the token in their error
// texts: go-jose quotes a header value it cannot decode and the alg it does not
// accept, encoding/json names the map keys on the path to a value of the wrong
// type, go-oidc quotes the iss it read. A token is anyone's to write and these
// messages reach the decision log, where such bytes could forge lines, carry
// markup to whoever reads them, or smuggle data out. So a library's error becomes
// a message of ours: the library, and a fixed description chosen by the error's
// known prefix. Its text is never repeated.

// libraryFailure is a known error of a library: the prefix of its text, what to
// say instead, and the reason when it is not ReasonMalformed.
type libraryFailure struct {
	prefix, says, reason string
}

// joseFailures are go-jose's errors from parsing a compact JWS, as of v4.1.8.
var joseFailures = []libraryFailure{
	{prefix: "unexpected signature algorithm", says: "the header's alg is not an accepted algorithm"},
	{prefix: "failed to unmarshal algorithm", says: "the header's alg is not a string"},
	{prefix: "failed to unmarshal key ID", says: "the header's kid is not a string"},
	{prefix: "failed to unmarshal nonce", says: "the header's nonce is not a string"},
	{prefix: "failed to unmarshal x5c header", says: "the header's x5c is not a certificate chain"},
	{prefix: "failed to unmarshal JWK", says: "the header's jwk is not a public key"},
	{prefix: "go-jose/go-jose: invalid embedded jwk", says: "the header's jwk is not a public key"},
	{prefix: "failed to unmarshal value", says: "a header member holds a value it cannot decode"},
	// go-jose's JSON decoder also refuses repeated names here.
	{prefix: "go-jose/go-jose: invalid protected header", says: "the header is not a JSON object it can read"},
	{prefix: "go-jose/go-jose: compact JWS format must have three parts", says: "the token does not have three parts"},
	{prefix: "illegal base64 data", says: "a part of the token is not base64url"},
}

// oidcFailures are go-oidc's errors from IDTokenVerifier.Verify, as of v3.21.0,
// other than the two oidcError reads further.
var oidcFailures = []libraryFailure{
	// Only a parser differential gets here: the verifier is go-oidc's for the
	// very iss this package read.
	{prefix: "oidc: id token issued by a different provider", says: "it read an iss other than the one this verifier read"},
	{prefix: "oidc: current time", says: "nbf is in the future", reason: ReasonNotYetValid},
	{prefix: "oidc: failed to obtain source from claim name", says: "_claim_names names an empty source"},
	{prefix: "oidc: source does not exist", says: "_claim_names names a source that _claim_sources lacks"},
	{prefix: "oidc: id token not signed", says: "the token has no signature"},
	{prefix: "oidc: multiple signatures", says: "the token has several signatures"},
}

// oidcClaims are the claims go-oidc decodes into its own struct.
var oidcClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "_claim_names", "_claim_sources"}

// joseError words an error of go-jose's ParseSigned or ParseSignedCompact.
func joseError(err error) *Error { return libraryError("go-jose", joseFailures, err.Error()) }

// oidcError words an error of go-oidc's Verify other than a *TokenExpiredError
// or one of the key set's own.
func oidcError(err error) *Error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "oidc: malformed jwt: "); ok {
		return libraryError("go-jose", joseFailures, rest)
	}
	if rest, ok := strings.CutPrefix(msg, "oidc: failed to unmarshal claims: "); ok {
		// encoding/json's text names the field, then the token's map keys
		// under it: "Go struct field idToken._claim_names.<key> of type string".
		if _, path, ok := strings.Cut(rest, "Go struct field idToken."); ok {
			if i := strings.IndexAny(path, ". "); i >= 0 {
				path = path[:i]
			}
			for _, c := range oidcClaims {
				if strings.EqualFold(path, c) {
					return fail(ReasonMalformed, "go-oidc: the claim %s has the wrong type", c)
				}
			}
		}
		return fail(ReasonMalformed, "go-oidc: a registered claim has the wrong type")
	}
	return libraryError("go-oidc", oidcFailures, msg)
}

// libraryError says what the first failure in known whose prefix msg has says,
// or, for a text it does not know, only which library failed.
func libraryError(library string, known []libraryFailure, msg string) *Error {
	for _, f := range known {
		if strings.HasPrefix(msg, f.prefix) {
			return fail(cmp.Or(f.reason, ReasonMalformed), "%s: %s", library, f.says)
		}
	}
	return fail(ReasonMalformed, "%s: an error this verifier does not know (its text may quote the token, so it is not repeated)", library)
}
