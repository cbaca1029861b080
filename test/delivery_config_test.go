package e2e

import "testing"

// TestDeliveryOPAConfigRefused starts the function on OPA configurations it
// must not run: a section it does not run (an OPA user would believe it
// works), keys without a signing block (OPA would take the bundle unsigned),
// an empty key id (GHSA-g2pf-6v5v-qcc8), and others. Each is a configuration
// error at start-up: every request denied with config_error, one line naming
// AUTHZ_OPA_CONFIG and what is wrong, and no request to the bundle service.
func TestDeliveryOPAConfigRefused(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tokens := mintDeliveryTokens(t, iss)
	key := newBundleKey(t, "release", "ES256")
	srv := startBundleServer(t, "bundles/authz.tar.gz")
	srv.Put("v1", buildBundle(t, bundleSpec{Files: deliveryFiles(t, false), Roots: defaultRoots, Revision: "v1", SignWith: &key}))
	srv.Serve("v1")

	service := map[string]any{"policies": map[string]any{"url": srv.URL}}
	signed := map[string]any{"service": "policies", "resource": srv.Resource, "signing": map[string]any{"keyid": key.ID}}
	unsigned := map[string]any{"service": "policies", "resource": srv.Resource}
	cases := []struct {
		name   string
		config map[string]any
		env    map[string]string
		says   []string // the configuration error line holds these
	}{
		{"discovery", map[string]any{"services": service, "discovery": map[string]any{"service": "policies", "resource": "/discovery.tar.gz"},
			"bundles": map[string]any{"authz": signed}, "keys": keysConfig(key)}, nil, []string{`section "discovery" is not supported`}},
		{"keys without a signing block", map[string]any{"services": service, "bundles": map[string]any{"authz": unsigned}, "keys": keysConfig(key)},
			nil, []string{`bundle "authz"`, `no "signing" block`}},
		{"an empty key id", map[string]any{"services": service, "bundles": map[string]any{"authz": map[string]any{
			"service": "policies", "resource": srv.Resource, "signing": map[string]any{"keyid": ""}}},
			"keys": map[string]any{"": map[string]any{"algorithm": key.Algorithm, "key": key.PublicPEM}}}, nil, []string{"key id is empty"}},
		{"decision_logs to the console", map[string]any{"services": service, "bundles": map[string]any{"authz": signed}, "keys": keysConfig(key),
			"decision_logs": map[string]any{"console": true}}, nil, []string{`decision_logs: "console" is not supported`}},
		{"a misspelt section", map[string]any{"services": service, "bundle": map[string]any{"authz": signed}}, nil, []string{`section "bundle"`}},
		{"long polling", map[string]any{"services": service, "bundles": map[string]any{"authz": map[string]any{
			"service": "policies", "resource": srv.Resource, "polling": map[string]any{"long_polling_timeout_seconds": 10}}}},
			nil, []string{"long_polling_timeout_seconds"}},
		{"plain http off loopback", map[string]any{"services": map[string]any{"policies": map[string]any{"url": "http://bundles.example.com"}},
			"bundles": map[string]any{"authz": unsigned}}, nil, []string{"only https, or http on a loopback host"}},
		{"with AUTHZ_BUNDLE too", map[string]any{"services": service, "bundles": map[string]any{"authz": signed}, "keys": keysConfig(key)},
			map[string]string{"AUTHZ_BUNDLE": srv.BundleURL()}, []string{"excludes AUTHZ_BUNDLE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fn := startFunction(t, withEnv(map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_OPA_CONFIG": string(mustJSON(c.config))}, c.env))
			for _, auth := range []string{"Bearer " + tokens.admin, ""} {
				path := deliveryPath
				if auth == "" {
					path = "/health"
				}
				if got := ask(t, fn, "GET", path, auth); got.outcome != "error" || got.reason != "config_error" {
					t.Fatalf("GET %s: %s/%s, want error/config_error", path, got.outcome, got.reason)
				}
			}
			lines := matching(fn, 0, "configuration error", append([]string{"AUTHZ_OPA_CONFIG"}, c.says...)...)
			if len(lines) != 1 {
				t.Fatalf("%d configuration error lines naming AUTHZ_OPA_CONFIG and %q, want 1; the log:\n%s", len(lines), c.says, fn.text())
			}
			t.Log(lines[0].str("error"))
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("the bundle service was asked %d times", n)
	}
}
