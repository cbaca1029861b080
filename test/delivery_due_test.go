package e2e

import (
	"testing"
	"time"
)

// TestDeliveryTheDueRequestIsDecidedByTheNewRevision: the request that finds
// a check due waits for it (within a budget and its deadline), so a new
// revision decides that very request. A check left to run after the response
// would be frozen with the Lambda process and, frozen longer than its timeout,
// fail at the next thaw: containers whose requests come minutes apart would
// never see a new revision.
func TestDeliveryTheDueRequestIsDecidedByTheNewRevision(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "default", "ES256")
	build := func(internsAdmin bool, rev string) []byte {
		return buildBundle(t, bundleSpec{Files: deliveryFiles(t, internsAdmin), Roots: defaultRoots, Revision: rev, SignWith: &key})
	}
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	srv.Put("v1", build(false, "v1"))
	srv.Put("v2", build(true, "v2"))
	srv.Serve("v1")
	fn := startFunction(t, map[string]string{
		"AUTHZ_ISSUERS":              issuersEnv(iss),
		"AUTHZ_BUNDLE":               srv.BundleURL(),
		"AUTHZ_BUNDLE_PUBLIC_KEY":    key.PublicPEM,
		"AUTHZ_BUNDLE_POLL_INTERVAL": "1s",
	})
	if c := tokens.askIntern(t, fn); c.revision != "v1" || c.outcome != "deny" {
		t.Fatalf("v1: %s under %q", c.outcome, c.revision)
	}
	srv.SetDelay(300 * time.Millisecond) // a check takes a while
	srv.Serve("v2")
	time.Sleep(1200 * time.Millisecond) // the poll interval passes, with no request
	start := time.Now()
	c := tokens.askIntern(t, fn)
	if c.revision != "v2" || c.outcome != "allow" {
		t.Fatalf("the request that found the check due: %s/%s under %q, want allow under v2", c.outcome, c.reason, c.revision)
	}
	t.Logf("the due request waited %d ms for the check", time.Since(start).Milliseconds())
}
