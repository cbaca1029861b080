package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeliveryFromS3 reads the bundle from an S3-compatible server on
// loopback that checks every request's Signature V4 against the test's
// temporary credentials, session token included: from AUTHZ_BUNDLE=s3://
// with AWS_ENDPOINT_URL_S3, and from an OPA configuration describing the
// same service in OPA's own terms. Credentials that do not sign are refused
// by the server, and the function denies with policy_not_ready.
func TestDeliveryFromS3(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	creds := testAWSCredentials()
	s3 := startS3Server(t, "policy-bucket", creds)
	key := newBundleKey(t, "default", "RS256")
	bundleAt := func(object, rev string) {
		s3.PutObject(object, buildBundle(t, bundleSpec{Files: deliveryFiles(t, true), Roots: defaultRoots, Revision: rev, SignWith: &key}))
	}
	// requestsFor are the server's requests for one object, whose path names
	// it even when the request was refused.
	requestsFor := func(object string) []s3Request {
		var out []s3Request
		for _, r := range s3.Requests() {
			if r.Path == "/"+s3.Bucket+"/"+object {
				out = append(out, r)
			}
		}
		return out
	}
	env := func(more map[string]string) map[string]string {
		return withEnv(map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)}, s3.Env(), more)
	}

	t.Run("AUTHZ_BUNDLE=s3://", func(t *testing.T) {
		t.Parallel()
		const object = "bundles/simple.tar.gz"
		bundleAt(object, "s3-simple")
		fn := startFunction(t, env(map[string]string{
			"AUTHZ_BUNDLE":               s3.ObjectURL(object),
			"AUTHZ_BUNDLE_PUBLIC_KEY":    key.PublicPEM,
			"AUTHZ_BUNDLE_POLL_INTERVAL": "1s",
		}))
		if c := tokens.askIntern(t, fn); c.outcome != "allow" || c.revision != "s3-simple" {
			t.Fatalf("%s/%s under %q, want allow under s3-simple", c.outcome, c.reason, c.revision)
		}
		// The next poll is a signed conditional GET, answered 304.
		followed(t, fn, 3*time.Second, func() call { return tokens.askIntern(t, fn) },
			func(call) bool { return len(requestsFor(object)) >= 2 })
		log := requestsFor(object)
		first, second := log[0], log[1]
		if first.Status != 200 || !first.Token || !slices.Contains(first.SignedHeaders, "x-amz-security-token") {
			t.Fatalf("first GET %+v, want 200, signed with the session token", first)
		}
		if second.Status != 304 || second.IfNoneMatch == "" || !slices.Contains(second.SignedHeaders, "if-none-match") {
			t.Fatalf("second GET %+v, want a signed If-None-Match answered 304", second)
		}
		if got := len(activations(fn, 0)); got != 1 {
			t.Fatalf("%d activations, want 1", got)
		}
	})

	t.Run("a wrong secret: the server refuses, the function is not ready", func(t *testing.T) {
		t.Parallel()
		const object = "bundles/wrong-secret.tar.gz"
		bundleAt(object, "s3-wrong-secret")
		wrong := env(map[string]string{
			"AUTHZ_BUNDLE":            s3.ObjectURL(object),
			"AUTHZ_BUNDLE_PUBLIC_KEY": key.PublicPEM,
			"AWS_SECRET_ACCESS_KEY":   "not-the-secret-0000000000000000000000000",
		})
		fn := startFunction(t, wrong)
		for _, auth := range []string{"Bearer " + tokens.admin, ""} {
			if c := ask(t, fn, deliveryMethod, deliveryPath, auth); c.outcome != "error" || c.reason != "policy_not_ready" {
				t.Fatalf("auth %.10q: %s/%s, want error/policy_not_ready", auth, c.outcome, c.reason)
			}
		}
		log := requestsFor(object)
		if len(log) == 0 {
			t.Fatal("the function never asked the S3 server")
		}
		for _, r := range log {
			if r.Status != 403 || r.Code != "SignatureDoesNotMatch" {
				t.Fatalf("S3 answered %+v, want 403 SignatureDoesNotMatch", r)
			}
		}
		if len(matching(fn, 0, "no policy bundle activated at start-up", "403")) == 0 {
			t.Fatal("no start-up line says the bundle could not be had, and why")
		}
		if strings.Contains(fn.text(), "not-the-secret") || strings.Contains(fn.text(), creds.SessionToken) {
			t.Fatal("the output repeats a credential")
		}
	})

	t.Run("AUTHZ_OPA_CONFIG with s3_signing", func(t *testing.T) {
		t.Parallel()
		const object = "bundles/opa-config.tar.gz"
		bundleAt(object, "s3-opa-config")
		// As an OPA user writes it: YAML, the bucket's URL, environment
		// credentials, a signed bundle under a named key.
		config := fmt.Sprintf(`services:
  s3:
    url: %s/%s
    credentials:
      s3_signing:
        environment_credentials: {}
bundles:
  authz:
    service: s3
    resource: %s
    signing:
      keyid: release-2026
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 2
keys:
  release-2026:
    algorithm: RS256
    key: |
%s`, s3.Endpoint, s3.Bucket, object, indent(key.PublicPEM, "      "))
		e := env(map[string]string{"AUTHZ_OPA_CONFIG": config})
		delete(e, "AWS_ENDPOINT_URL_S3") // the service's url names the endpoint
		fn := startFunction(t, e)
		if c := tokens.askIntern(t, fn); c.outcome != "allow" || c.revision != "s3-opa-config" {
			t.Fatalf("%s/%s under %q, want allow under s3-opa-config", c.outcome, c.reason, c.revision)
		}
		if log := requestsFor(object); len(log) != 1 || log[0].Status != 200 || !log[0].Token {
			t.Fatalf("S3 requests %+v, want one 200 signed with the session token", log)
		}
	})
}

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "") + "\n"
}
