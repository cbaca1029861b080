package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestDeliveryColdStartServiceDown starts the function while its bundle
// service is down: every request is denied with policy_not_ready, whatever
// it carries and for every kind of event — never allowed, never
// Unauthorized, which would send users to log in again. When the service
// comes back on the same port, decisions follow its bundle without a
// restart, though the poll interval is the default minute: while no bundle
// is active the function checks every second.
func TestDeliveryColdStartServiceDown(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "default", "ES256")
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	srv.Put("v1", buildBundle(t, bundleSpec{Files: deliveryFiles(t, false), Roots: defaultRoots, Revision: "v1", SignWith: &key}))
	srv.Serve("v1")
	srv.Stop()

	env := map[string]string{
		"AUTHZ_ISSUERS":           issuersEnv(iss),
		"AUTHZ_BUNDLE":            srv.BundleURL(),
		"AUTHZ_BUNDLE_PUBLIC_KEY": key.PublicPEM,
	}
	requests := []struct {
		name         string
		method, path string
		auth         string
	}{
		{"a token the policy allows", deliveryMethod, deliveryPath, "Bearer " + tokens.admin},
		{"no token, public route", "GET", "/health", ""},
		{"no token, private route", "GET", "/orders", ""},
	}
	var fn *function // the REST API's, kept for the service's return
	for i, k := range kinds {
		f := startFunction(t, withEnv(env, k.env))
		if i == 0 {
			fn = f
		}
		for _, r := range requests {
			res := f.invoke(t, k.event(r.method, r.path, r.auth))
			checkOutcome(t, k, res, want{outcome: "error"}, k.arn(r.method, r.path))
			if line := f.decisionLog(t, f.lastRequestID()); line["outcome"] != "error" || line["reason"] != "policy_not_ready" {
				t.Fatalf("%s, %s: decision log %v, want error/policy_not_ready", k.name, r.name, line)
			}
		}
		if len(matching(f, 0, "no policy bundle activated at start-up", "connection refused")) == 0 {
			t.Fatal("no start-up line says that no bundle could be had, and why")
		}
	}

	pid := fn.cmd.Process.Pid
	srv.Start(t)
	back := time.Now()
	n, took := followed(t, fn, 5*time.Second, func() call {
		c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+tokens.admin)
		if c.outcome != "allow" && c.reason != "policy_not_ready" {
			t.Fatalf("while the policy comes in: %s/%s", c.outcome, c.reason)
		}
		return c
	}, func(c call) bool { return c.outcome == "allow" && c.revision == "v1" })
	t.Logf("the bundle decided after %d invocations, %d ms after the service came back", n, took.Milliseconds())
	if c := ask(t, fn, "GET", "/health", ""); c.outcome != "allow" || c.reason != "policy_allowed" {
		t.Fatalf("public route once the policy is in: %s/%s", c.outcome, c.reason)
	}
	if c := tokens.askIntern(t, fn); c.outcome != "deny" || c.revision != "v1" {
		t.Fatalf("an intern once the policy is in: %s/%s under %q", c.outcome, c.reason, c.revision)
	}
	if fn.cmd.Process.Pid != pid || len(matching(fn, 0, "authorizer ready")) != 1 {
		t.Fatal("the function restarted")
	}
	if a := activations(fn, 0); len(a) != 1 || lineTime(t, a[0]).Before(back) {
		t.Fatalf("activations %v", a)
	}
}

// TestDeliveryColdStartCost measures a cold start on a remote bundle against
// the embedded one and a signed bundle in the package: from the process's
// start to "authorizer ready", to "policy activated" (remote only), and to
// the first decision. Loopback hides the network; what is left is OPA's
// plugin manager, the download, the signature and the compile.
func TestDeliveryColdStartCost(t *testing.T) {
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "default", "ES256")
	tarball := buildBundle(t, bundleSpec{Files: deliveryFiles(t, false), Roots: defaultRoots, Revision: "v1", SignWith: &key})
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	srv.Put("v1", tarball)
	srv.Serve("v1")
	local := filepath.Join(t.TempDir(), "authz.tar.gz")
	if err := os.WriteFile(local, tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)}
	sources := []struct {
		name string
		env  map[string]string
	}{
		{"embedded", base},
		{"package .tar.gz, signed", withEnv(base, map[string]string{"AUTHZ_BUNDLE": local, "AUTHZ_BUNDLE_PUBLIC_KEY": key.PublicPEM})},
		{"remote, loopback, signed", withEnv(base, map[string]string{"AUTHZ_BUNDLE": srv.BundleURL(), "AUTHZ_BUNDLE_PUBLIC_KEY": key.PublicPEM})},
	}
	const runs = 5
	for _, s := range sources {
		var ready, activated, first []time.Duration
		for range runs {
			t.Run(s.name, func(t *testing.T) {
				start := time.Now()
				fn := startFunction(t, s.env)
				if c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+tokens.admin); c.outcome != "allow" {
					t.Fatalf("%s/%s", c.outcome, c.reason)
				}
				first = append(first, time.Since(start))
				r := matching(fn, 0, "authorizer ready")
				if len(r) != 1 {
					t.Fatal("no authorizer ready line")
				}
				ready = append(ready, lineTime(t, r[0]).Sub(start))
				if a := activations(fn, 0); len(a) == 1 {
					activated = append(activated, lineTime(t, a[0]).Sub(start))
				}
			})
		}
		t.Logf("%-26s ready %-9s activated %-9s first decision %s (median of %d)", s.name, median(ready), median(activated), median(first), runs)
	}
}

// median is the median of ds, rounded to 0.1 ms, or "-" for none.
func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond).String()
}
