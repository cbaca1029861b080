package identity

import (
	"errors"
	"fmt"
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
