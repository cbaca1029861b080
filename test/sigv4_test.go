package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The S3 server's check of AWS Signature Version 4, header form: it recomputes
// the Authorization header of a received request with aws-sdk-go-v2's signer,
// an implementation independent of OPA's, from the expected credentials and
// the headers the request says it signed. Presigned (query) requests are
// refused: OPA does not send them.

// awsCredentials are what Lambda puts in a function's environment.
type awsCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // "" for long-term keys
	Region          string
}

// testAWSCredentials are fake temporary credentials, with a session token.
func testAWSCredentials() awsCredentials {
	return awsCredentials{
		AccessKeyID:     "ASIAE2ETESTKEY000001",
		SecretAccessKey: "e2e/Secret+Access/Key0000000000000000000",
		SessionToken:    "E2ESessionToken//+=" + strings.Repeat("x", 64),
		Region:          "eu-west-1",
	}
}

// env is the credentials as the Lambda environment holds them.
func (c awsCredentials) env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": c.SecretAccessKey,
		"AWS_SESSION_TOKEN":     c.SessionToken,
		"AWS_REGION":            c.Region,
	}
}

func (c awsCredentials) sdk() aws.Credentials {
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

const (
	sigV4Algorithm   = "AWS4-HMAC-SHA256"
	amzDateFormat    = "20060102T150405Z"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// maxClockSkew is S3's: a request signed further from now is refused.
	maxClockSkew = 15 * time.Minute
)

// sigV4Error is a refused request: S3's error code and HTTP status, and why,
// in words a failing test can show.
type sigV4Error struct {
	Code   string
	Status int
	Reason string
}

func (e *sigV4Error) Error() string { return e.Code + ": " + e.Reason }

func refuse(code string, status int, format string, a ...any) *sigV4Error {
	return &sigV4Error{Code: code, Status: status, Reason: fmt.Sprintf(format, a...)}
}

// sigV4Request is what a verified (or refused) request signed.
type sigV4Request struct {
	SignedHeaders []string // as the Authorization header lists them
	PayloadHash   string   // X-Amz-Content-Sha256: a hex SHA-256, or UNSIGNED-PAYLOAD
	Token         bool     // X-Amz-Security-Token was present
}

// verifySigV4 checks r, whose body was body, against creds for service at
// now, the way S3 does for header-signed requests.
func verifySigV4(r *http.Request, body []byte, creds awsCredentials, service string, now time.Time) (sigV4Request, *sigV4Error) {
	var info sigV4Request
	if r.URL.Query().Has("X-Amz-Signature") || r.URL.Query().Has("X-Amz-Credential") {
		return info, refuse("AccessDenied", 403, "presigned (query string) requests are not accepted by this server")
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return info, refuse("AccessDenied", 403, "no Authorization header: anonymous access is denied")
	}
	scheme, params, ok := strings.Cut(auth, " ")
	if !ok || scheme != sigV4Algorithm {
		return info, refuse("AuthorizationHeaderMalformed", 403, "the Authorization header is not %s: %q", sigV4Algorithm, scheme)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return info, refuse("AuthorizationHeaderMalformed", 403, "the Authorization header has a part without '=': %q", part)
		}
		fields[k] = v
	}
	credential, signedList, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if credential == "" || signedList == "" || signature == "" {
		return info, refuse("AuthorizationHeaderMalformed", 403, "the Authorization header needs Credential, SignedHeaders and Signature: %q", params)
	}
	info.SignedHeaders = strings.Split(signedList, ";")
	info.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	info.Token = len(r.Header.Values("X-Amz-Security-Token")) > 0

	// The credential scope: KEY/DATE/REGION/SERVICE/aws4_request.
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return info, refuse("AuthorizationHeaderMalformed", 403, "the credential %q is not KEY/DATE/REGION/SERVICE/aws4_request", credential)
	}
	if scope[0] != creds.AccessKeyID {
		return info, refuse("InvalidAccessKeyId", 403, "access key id %q, want %q", scope[0], creds.AccessKeyID)
	}
	if scope[2] != creds.Region {
		return info, refuse("AuthorizationHeaderMalformed", 403, "the credential scope's region is %q, want %q", scope[2], creds.Region)
	}
	if scope[3] != service {
		return info, refuse("AuthorizationHeaderMalformed", 403, "the credential scope's service is %q, want %q", scope[3], service)
	}

	// The date: X-Amz-Date, in the scope's day, within the allowed skew.
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return info, refuse("AccessDenied", 403, "X-Amz-Date %q is not %s", amzDate, amzDateFormat)
	}
	if scope[1] != signedAt.Format("20060102") {
		return info, refuse("SignatureDoesNotMatch", 403, "the credential scope's date %s is not X-Amz-Date's day %s", scope[1], amzDate)
	}
	if skew := now.Sub(signedAt).Abs(); skew > maxClockSkew {
		return info, refuse("RequestTimeTooSkewed", 403, "signed at %s, %v from the server's time (at most %v)", amzDate, skew.Round(time.Second), maxClockSkew)
	}

	// What must be signed: host, every x-amz-* header sent, the token.
	if !slices.IsSorted(info.SignedHeaders) {
		return info, refuse("AuthorizationHeaderMalformed", 403, "SignedHeaders %q is not sorted", signedList)
	}
	for _, h := range info.SignedHeaders {
		if h != strings.ToLower(h) || h == "" {
			return info, refuse("AuthorizationHeaderMalformed", 403, "SignedHeaders %q: %q is not a lower-case header name", signedList, h)
		}
		if h != "host" && h != "content-length" && r.Header.Values(h) == nil {
			return info, refuse("AccessDenied", 403, "the signed header %q was not sent", h)
		}
	}
	if !slices.Contains(info.SignedHeaders, "host") {
		return info, refuse("AccessDenied", 403, "host is not signed (SignedHeaders %q)", signedList)
	}
	for name := range r.Header {
		if h := strings.ToLower(name); strings.HasPrefix(h, "x-amz-") && !slices.Contains(info.SignedHeaders, h) {
			return info, refuse("AccessDenied", 403, "the header %s was sent but not signed", h)
		}
	}

	// The session token: present, signed (above) and right when one is
	// expected; absent otherwise.
	token := r.Header.Get("X-Amz-Security-Token")
	switch {
	case creds.SessionToken != "" && !info.Token:
		return info, refuse("InvalidAccessKeyId", 403, "no X-Amz-Security-Token, and the credentials %s are temporary", creds.AccessKeyID)
	case creds.SessionToken != "" && token != creds.SessionToken:
		return info, refuse("InvalidToken", 403, "X-Amz-Security-Token is not the session token of %s", creds.AccessKeyID)
	case creds.SessionToken == "" && info.Token:
		return info, refuse("InvalidToken", 403, "X-Amz-Security-Token sent for long-term credentials")
	}

	// The payload: S3 wants x-amz-content-sha256, the hash of the body sent
	// or UNSIGNED-PAYLOAD (streaming uploads are not served here).
	switch {
	case info.PayloadHash == "":
		return info, refuse("InvalidRequest", 400, "missing required header for this request: x-amz-content-sha256")
	case info.PayloadHash == unsignedPayload:
	case len(info.PayloadHash) == 64 && strings.ToLower(info.PayloadHash) == info.PayloadHash:
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != info.PayloadHash {
			return info, refuse("XAmzContentSHA256Mismatch", 400, "x-amz-content-sha256 %s is not the SHA-256 of the %d bytes sent", info.PayloadHash, len(body))
		}
	default:
		return info, refuse("InvalidArgument", 400, "x-amz-content-sha256 %q is neither a SHA-256 nor %s", info.PayloadHash, unsignedPayload)
	}

	// The signature, recomputed over the headers the request says it signed
	// (others, such as the Accept-Encoding and User-Agent Go's transport
	// adds, are not part of it).
	want, err := expectedAuthorization(r, info.SignedHeaders, creds, service, signedAt)
	if err != nil {
		return info, refuse("AccessDenied", 403, "recomputing the signature: %v", err)
	}
	wantFields := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimPrefix(want, sigV4Algorithm+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		wantFields[k] = v
	}
	if wantFields["SignedHeaders"] != signedList {
		// aws-sdk-go-v2 never signs Authorization, User-Agent, X-Amzn-Trace-Id,
		// Expect or Transfer-Encoding: a request that did cannot be checked.
		return info, refuse("SignatureDoesNotMatch", 403, "signed headers %q, recomputed over %q", signedList, wantFields["SignedHeaders"])
	}
	if !hmac.Equal([]byte(wantFields["Signature"]), []byte(signature)) {
		return info, refuse("SignatureDoesNotMatch", 403, "the signature over %s %s (signed headers %s, payload %s) does not match one computed with the secret of %s",
			r.Method, r.URL.EscapedPath(), signedList, info.PayloadHash, creds.AccessKeyID)
	}
	return info, nil
}

// expectedAuthorization signs a copy of r made of its method, path, query and
// signed headers only, with creds, as of signedAt.
func expectedAuthorization(r *http.Request, signed []string, creds awsCredentials, service string, signedAt time.Time) (string, error) {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	req, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host", "x-amz-date", "x-amz-security-token": // the signer sets them
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	err = v4.NewSigner().SignHTTP(context.Background(), creds.sdk(), req, r.Header.Get("X-Amz-Content-Sha256"), service, creds.Region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }) // S3 paths are escaped once
	return req.Header.Get("Authorization"), err
}
