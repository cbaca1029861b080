package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDeliveryEveryBundleBeforeReady configures two bundles, as a security
// team does to update a block list apart from the policy: the policy (roots
// authz, lib, rbac) from one service, and the block list (root blocklist) from
// another, which is down at the cold start. Until every configured bundle has
// been activated, a decision would be made with part of the policy: here a
// blocked admin would be let through. The function must deny with
// policy_not_ready until both are in, as OPA's own readiness waits for every
// bundle; then the blocked admin is denied and the others allowed.
func TestDeliveryEveryBundleBeforeReady(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	admin := mint(t, iss, "alice", groups("admins"))
	blocked := mint(t, iss, "mallory", groups("admins"))
	key := newBundleKey(t, "release", "ES256")

	files := defaultPolicy(t)
	if !strings.Contains(files["authz.rego"], "allow if some _ in matches\n") {
		t.Fatal("the default policy changed: adapt the block-list rule")
	}
	files["authz.rego"] = strings.Replace(files["authz.rego"], "allow if some _ in matches\n",
		"allow if {\n\tsome _ in matches\n\tnot blocked\n}\n\nblocked if data.blocklist.subjects[input.token.subject]\n", 1)
	policySrv := startBundleServer(t, "bundles/policy.tar.gz")
	policySrv.Put("p1", buildBundle(t, bundleSpec{Files: files, Roots: defaultRoots, Revision: "p1", SignWith: &key}))
	policySrv.Serve("p1")
	listSrv := startBundleServer(t, "bundles/blocklist.tar.gz")
	listSrv.Put("b1", buildBundle(t, bundleSpec{Files: map[string]string{"blocklist/data.json": `{"subjects": {"mallory": "account compromised"}}`},
		Roots: []string{"blocklist"}, Revision: "b1", SignWith: &key}))
	listSrv.Serve("b1")
	listSrv.Stop()

	signing := map[string]any{"keyid": key.ID}
	polling := map[string]any{"min_delay_seconds": 1, "max_delay_seconds": 2}
	config := map[string]any{
		"services": map[string]any{"policies": map[string]any{"url": policySrv.URL}, "lists": map[string]any{"url": listSrv.URL}},
		"bundles": map[string]any{
			"policy":    map[string]any{"service": "policies", "resource": policySrv.Resource, "signing": signing, "polling": polling},
			"blocklist": map[string]any{"service": "lists", "resource": listSrv.Resource, "signing": signing, "polling": polling},
		},
		"keys": keysConfig(key),
	}
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_OPA_CONFIG": string(mustJSON(config))})

	for _, auth := range []string{"Bearer " + blocked, "Bearer " + admin, ""} {
		c := ask(t, fn, deliveryMethod, deliveryPath, auth)
		if c.outcome != "error" || c.reason != "policy_not_ready" {
			t.Errorf("with the block list not yet in (auth %.12q): %s/%s under %q, want error/policy_not_ready", auth, c.outcome, c.reason, c.revision)
		}
	}

	listSrv.Start(t)
	n, took := followed(t, fn, 5*time.Second, func() call { return ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+blocked) },
		func(c call) bool { return strings.Contains(c.revision, "blocklist@b1") })
	if c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+blocked); c.outcome != "deny" {
		t.Fatalf("the blocked admin with both bundles in: %s/%s", c.outcome, c.reason)
	}
	if c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+admin); c.outcome != "allow" || c.revision != "blocklist@b1,policy@p1" {
		t.Fatalf("an admin with both bundles in: %s/%s under %q", c.outcome, c.reason, c.revision)
	}
	t.Logf("both bundles decided after %d invocations, %d ms after the block list's service came back", n, took.Milliseconds())
}
