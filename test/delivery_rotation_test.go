package e2e

import (
	"testing"
	"time"
)

// TestDeliveryKeyRotation rotates the bundle signer: AUTHZ_BUNDLE_PUBLIC_KEY
// holds two key ids, and the signature's own key id chooses between them, so
// that bundles signed by the old key and by the new one activate in turn; a
// bundle signed under a third key id is refused, and the log names it.
func TestDeliveryKeyRotation(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	oldKey, newKey := newBundleKey(t, "2026-05", "ES256"), newBundleKey(t, "2026-11", "RS256")
	third := newBundleKey(t, "2027-05", "ES256")
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	put := func(name string, internsAdmin bool, k *bundleKey) {
		srv.Put(name, buildBundle(t, bundleSpec{Files: deliveryFiles(t, internsAdmin), Roots: defaultRoots, Revision: name, SignWith: k}))
	}
	put("r1-old", false, &oldKey)
	put("r2-new", true, &newKey)
	put("r3-old", false, &oldKey)
	put("r4-third", true, &third)
	srv.Serve("r1-old")
	fn := startFunction(t, map[string]string{
		"AUTHZ_ISSUERS":              issuersEnv(iss),
		"AUTHZ_BUNDLE":               srv.BundleURL(),
		"AUTHZ_BUNDLE_PUBLIC_KEY":    string(mustJSON(map[string]string{oldKey.ID: oldKey.PublicPEM, newKey.ID: newKey.PublicPEM})),
		"AUTHZ_BUNDLE_POLL_INTERVAL": "1s",
	})
	if c := tokens.askIntern(t, fn); c.outcome != "deny" || c.revision != "r1-old" {
		t.Fatalf("r1-old: %s/%s under %q", c.outcome, c.reason, c.revision)
	}
	for _, step := range []struct {
		serve   string
		outcome string
	}{{"r2-new", "allow"}, {"r3-old", "deny"}} {
		srv.Serve(step.serve)
		n, took := followed(t, fn, 5*time.Second, func() call { return tokens.askIntern(t, fn) },
			func(c call) bool { return c.revision == step.serve })
		if c := tokens.askIntern(t, fn); c.outcome != step.outcome {
			t.Fatalf("%s: %s/%s", step.serve, c.outcome, c.reason)
		}
		t.Logf("%s activated after %d invocations, %d ms", step.serve, n, took.Milliseconds())
	}

	mark := len(fn.output())
	srv.Serve("r4-third")
	followed(t, fn, 5*time.Second, func() call {
		c := tokens.askIntern(t, fn)
		if c.outcome != "deny" || c.revision != "r3-old" {
			t.Fatalf("a bundle under an unknown key id: %s/%s under %q, want r3-old's deny", c.outcome, c.reason, c.revision)
		}
		return c
	}, func(call) bool {
		return len(matching(fn, mark, "checking for a new policy bundle failed", "verification key corresponding to ID 2027-05 not found")) > 0
	})
	if a := activations(fn, 0); len(a) != 3 {
		t.Fatalf("%d activations, want r1-old, r2-new, r3-old", len(a))
	}
}
