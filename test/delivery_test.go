package e2e

import (
	"testing"
	"time"
)

// TestDeliveryHotUpdates is the first scenario of issue 9's tests: a bundle
// service serving signed bundles with ETag, polled every second. v1 decides;
// v2 takes over within the poll interval without a restart; every broken
// bundle or failing server after it leaves v2 in force and the log says why;
// an unchanged bundle costs a 304 and no recompilation.
func TestDeliveryHotUpdates(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "default", "ES256")
	stranger := newBundleKey(t, "stranger", "ES256")
	v1Files, v2Files := deliveryFiles(t, false), deliveryFiles(t, true)
	build := func(files map[string]string, rev string, k *bundleKey, tamper func(map[string]string)) []byte {
		return buildBundle(t, bundleSpec{Files: files, Roots: defaultRoots, Revision: rev, SignWith: k, Tamper: tamper})
	}

	srv := startBundleServer(t, "bundles/authz.tar.gz")
	e1 := srv.Put("v1", build(v1Files, "v1", &key, nil))
	e2 := srv.Put("v2", build(v2Files, "v2", &key, nil))
	srv.Serve("v1")

	fn := startFunction(t, map[string]string{
		"AUTHZ_ISSUERS":              issuersEnv(iss),
		"AUTHZ_BUNDLE":               srv.BundleURL(),
		"AUTHZ_BUNDLE_PUBLIC_KEY":    key.PublicPEM,
		"AUTHZ_BUNDLE_POLL_INTERVAL": "1s",
	})

	if c := tokens.askIntern(t, fn); c.outcome != "deny" || c.reason != "policy_denied" || c.revision != "v1" {
		t.Fatalf("v1: %s/%s under %q, want deny/policy_denied under v1", c.outcome, c.reason, c.revision)
	}
	if c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+tokens.admin); c.outcome != "allow" || c.revision != "v1" {
		t.Fatalf("v1, admin: %s/%s under %q", c.outcome, c.reason, c.revision)
	}
	// A start-up that went well says so at INFO: an ERROR line pages someone.
	for _, l := range linesFrom(fn, 0) {
		if l.str("level") == "ERROR" {
			t.Errorf("a healthy start-up logged an ERROR line: %s", mustJSON(l))
		}
	}

	t.Run("unchanged: 304s and no recompilation", func(t *testing.T) {
		n := len(srv.Requests())
		deadline := time.Now().Add(2300 * time.Millisecond)
		for time.Now().Before(deadline) {
			if c := tokens.askIntern(t, fn); c.revision != "v1" {
				t.Fatalf("revision %q, want v1", c.revision)
			}
			time.Sleep(100 * time.Millisecond)
		}
		log := srv.WaitRequests(t, n, 2, time.Second)
		for _, r := range log {
			if r.Status != 304 || r.IfNoneMatch != e1 || r.Version != "v1" {
				t.Fatalf("a poll of the unchanged bundle: %+v, want 304 on If-None-Match %s", r, e1)
			}
		}
		if got := len(activations(fn, 0)); got != 1 {
			t.Fatalf("%d policy activated lines, want only v1's", got)
		}
		t.Logf("%d polls of the unchanged bundle in 2.3 s, all 304", len(log))
	})

	t.Run("v2 follows within the poll interval", func(t *testing.T) {
		mark := len(fn.output())
		srv.Serve("v2")
		n, took := followed(t, fn, 5*time.Second, func() call { return tokens.askIntern(t, fn) },
			func(c call) bool { return c.outcome == "allow" && c.revision == "v2" })
		t.Logf("v2 decided after %d invocations, %d ms after it was served (poll interval 1 s)", n, took.Milliseconds())
		a := activations(fn, mark)
		if len(a) != 1 || a[0].str("revision") != "v2" || a[0].str("previous_revision") != "v1" {
			t.Fatalf("activations %v, want one of v2 after v1", a)
		}
	})

	// refused serves a broken bundle (or fails the server): decisions must
	// keep following v2 until a line of the log says why.
	refused := func(name string, serve func(), msg string, says ...string) {
		t.Run(name, func(t *testing.T) {
			mark, n := len(fn.output()), len(srv.Requests())
			serve()
			polls, took := followed(t, fn, 5*time.Second, func() call {
				c := tokens.askIntern(t, fn)
				if c.outcome != "allow" || c.revision != "v2" {
					t.Fatalf("decided %s/%s under %q, want v2's allow", c.outcome, c.reason, c.revision)
				}
				return c
			}, func(call) bool { return len(matching(fn, mark, msg, says...)) > 0 })
			if a := activations(fn, mark); len(a) != 0 {
				t.Fatalf("activated %v", a)
			}
			line := matching(fn, mark, msg, says...)[0]
			t.Logf("refused after %d invocations, %d ms, %d requests: %s: %v", polls, took.Milliseconds(), len(srv.Requests())-n, line.str("msg"), line["error"])
		})
	}

	// Each broken bundle is one that a poll must refuse; the log must say why.
	broken := []struct {
		name  string
		serve func()
		msg   string   // a line whose msg starts with this
		says  []string // and whose text holds these
	}{
		{"tampered v3", func() {
			srv.Put("tampered", build(v2Files, "v3", &key, func(f map[string]string) {
				f["data.json"] = editData(t, f["data.json"], func(rbac map[string]any) {
					rbac["public"] = []any{map[string]any{"method": "*", "path": "*"}}
				})
			}))
			srv.Serve("tampered")
		}, "checking for a new policy bundle failed", []string{"digest mismatch"}},
		{"unsigned", func() {
			srv.Put("unsigned", build(v2Files, "v3-unsigned", nil, nil))
			srv.Serve("unsigned")
		}, "checking for a new policy bundle failed", []string{".signatures.json"}},
		{"signed by an unknown key id", func() {
			srv.Put("stranger", build(v2Files, "v3-stranger", &stranger, nil))
			srv.Serve("stranger")
		}, "checking for a new policy bundle failed", []string{"verif"}},
		{"does not compile", func() {
			srv.Put("unsafe", build(withFile(v2Files, "authz.rego", unsafeRego), "v3-unsafe", &key, nil))
			srv.Serve("unsafe")
		}, "checking for a new policy bundle failed", []string{"var x is unsafe"}},
		{"not a bundle", func() {
			srv.Put("garbage", []byte("<html><body>Service temporarily unavailable</body></html>"))
			srv.Serve("garbage")
		}, "checking for a new policy bundle failed", []string{"gzip"}},
		{"500", func() { srv.SetFault(faultStatus500) }, "checking for a new policy bundle failed", []string{"500"}},
		{"hang-up", func() { srv.SetFault(faultHangUp) }, "checking for a new policy bundle failed", []string{"EOF"}},
		{"down", srv.Stop, "checking for a new policy bundle failed", []string{"connection refused"}},
		{"compiles in OPA but defines no data.authz.decision", func() {
			srv.Put("undefined", build(withFile(v2Files, "authz.rego", "package authz\n\nother := true\n"), "v3-undefined", &key, nil))
			srv.Serve("undefined")
		}, "OPA activated a policy bundle the authorizer cannot use", []string{"v3-undefined", "authz.decision"}},
	}
	for _, b := range broken[:len(broken)-1] {
		refused(b.name, b.serve, b.msg, b.says...)
	}

	// A slow server holds one check at a time; the request that starts a
	// check waits for it (within a 2 s budget: Lambda would freeze a check
	// left running after the response), the others do not wait. (A check
	// that takes longer than OPA's response header timeout fails: see
	// TestDeliverySlowServiceTimesOut.)
	t.Run("slow server", func(t *testing.T) {
		const delay = 1500 * time.Millisecond
		srv.Start(t) // after "down"
		srv.SetFault(faultNone)
		srv.Serve("v2")
		srv.SetDelay(delay)
		mark, n := len(fn.output()), len(srv.Requests())
		waited := 0
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			c := tokens.askIntern(t, fn)
			if c.outcome != "allow" || c.revision != "v2" || c.took > 2*time.Second+500*time.Millisecond {
				t.Fatalf("decided %s/%s under %q in %v, want v2's allow within the 2 s budget", c.outcome, c.reason, c.revision, c.took)
			}
			if c.took > delay/3 {
				waited++
			}
		}
		srv.SetDelay(0)
		log := srv.WaitRequests(t, n, 2, 2*delay)
		if waited > len(log) {
			t.Fatalf("%d requests waited for %d checks: only the one starting a check may", waited, len(log))
		}
		for i := 1; i < len(log); i++ {
			if gap := log[i].At.Sub(log[i-1].At); gap < delay-100*time.Millisecond {
				t.Fatalf("request %d came %v after the one before, which was held %v: checks overlap", i, gap, delay)
			}
		}
		for _, r := range log {
			if r.Status != 304 || r.IfNoneMatch != e2 {
				t.Fatalf("a slow poll of the unchanged v2: %+v", r)
			}
		}
		if a, f := activations(fn, mark), matching(fn, mark, "checking for a new policy bundle failed"); len(a)+len(f) != 0 {
			t.Fatalf("activations %v, failures %v", a, f)
		}
		t.Logf("%d slow polls in 3 s (one at a time, %v each), %d requests waited for one, every answer from v2", len(log), delay, waited)
	})

	b := broken[len(broken)-1]
	refused(b.name, b.serve, b.msg, b.says...)
}

// TestDeliverySlowServiceTimesOut: a bundle service slower than the
// service's response_header_timeout_seconds (OPA's, set in AUTHZ_OPA_CONFIG)
// fails the check; the policy in force stays, the log says why, and the next
// check, once the service answers again, brings the new bundle in.
func TestDeliverySlowServiceTimesOut(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "release", "ES256")
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	srv.Put("v1", buildBundle(t, bundleSpec{Files: deliveryFiles(t, false), Roots: defaultRoots, Revision: "v1", SignWith: &key}))
	srv.Put("v2", buildBundle(t, bundleSpec{Files: deliveryFiles(t, true), Roots: defaultRoots, Revision: "v2", SignWith: &key}))
	srv.Serve("v1")
	config := map[string]any{
		"services": map[string]any{"policies": map[string]any{"url": srv.URL, "response_header_timeout_seconds": 1}},
		"bundles": map[string]any{"authz": map[string]any{"service": "policies", "resource": srv.Resource,
			"signing": map[string]any{"keyid": key.ID}, "polling": map[string]any{"min_delay_seconds": 1, "max_delay_seconds": 2}}},
		"keys": keysConfig(key),
	}
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_OPA_CONFIG": string(mustJSON(config))})
	if c := tokens.askIntern(t, fn); c.outcome != "deny" || c.revision != "v1" {
		t.Fatalf("v1: %s/%s under %q", c.outcome, c.reason, c.revision)
	}

	mark := len(fn.output())
	srv.SetDelay(2500 * time.Millisecond) // over the 1 s timeout
	srv.Serve("v2")
	const why = "timeout awaiting response headers"
	polls, took := followed(t, fn, 6*time.Second, func() call {
		c := tokens.askIntern(t, fn)
		if c.outcome != "deny" || c.revision != "v1" {
			t.Fatalf("decided %s/%s under %q while the service is slow, want v1's deny", c.outcome, c.reason, c.revision)
		}
		return c
	}, func(call) bool { return len(matching(fn, mark, "checking for a new policy bundle failed", why)) > 0 })
	t.Logf("the slow check failed after %d invocations, %d ms", polls, took.Milliseconds())

	srv.SetDelay(0)
	polls, took = followed(t, fn, 5*time.Second, func() call { return tokens.askIntern(t, fn) },
		func(c call) bool { return c.outcome == "allow" && c.revision == "v2" })
	t.Logf("v2 decided after %d invocations, %d ms after the service answered again", polls, took.Milliseconds())
}

// TestDeliveryPollOnce: AUTHZ_BUNDLE_POLL_INTERVAL=0 reads the bundle once;
// a new one on the service is not asked for.
func TestDeliveryPollOnce(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "default", "ES256")
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	srv.Put("v1", buildBundle(t, bundleSpec{Files: deliveryFiles(t, false), Roots: defaultRoots, Revision: "v1", SignWith: &key}))
	srv.Put("v2", buildBundle(t, bundleSpec{Files: deliveryFiles(t, true), Roots: defaultRoots, Revision: "v2", SignWith: &key}))
	srv.Serve("v1")
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": srv.BundleURL(),
		"AUTHZ_BUNDLE_PUBLIC_KEY": key.PublicPEM, "AUTHZ_BUNDLE_POLL_INTERVAL": "0"})
	if c := tokens.askIntern(t, fn); c.revision != "v1" {
		t.Fatalf("start-up: %s/%s under %q", c.outcome, c.reason, c.revision)
	}
	srv.Serve("v2")
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if c := tokens.askIntern(t, fn); c.outcome != "deny" || c.revision != "v1" {
			t.Fatalf("%s/%s under %q, want v1's deny", c.outcome, c.reason, c.revision)
		}
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests to the service, want the one at start-up", n)
	}
}
