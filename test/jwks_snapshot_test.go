package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// takeJWKSSnapshot runs `authz jwks snapshot` as a build would, with
// AUTHZ_ISSUERS as the function has it, and returns the file it wrote.
func takeJWKSSnapshot(t *testing.T, issuers string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "jwks-snapshot.json")
	cmd := exec.Command(authzBin, "jwks", "snapshot", "-o", file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AUTHZ_ISSUERS=" + issuers}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("authz jwks snapshot: %v\n%s", err, out)
	}
	return file
}

// editSnapshot rewrites the snapshot file with change applied to its JSON.
func editSnapshot(t *testing.T, file string, change func(s map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	change(s)
	edited := filepath.Join(t.TempDir(), "jwks-snapshot.json")
	if err := os.WriteFile(edited, mustJSON(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return edited
}

func firstKey(s map[string]any) map[string]any {
	entry := s["issuers"].([]any)[0].(map[string]any)
	return entry["key_set"].(map[string]any)["keys"].([]any)[0].(map[string]any)
}

func hasLine(lines []string, text string) bool {
	for _, l := range lines {
		if strings.Contains(l, text) {
			return true
		}
	}
	return false
}

// TestJWKSSnapshot is item 5 of issue 9: a snapshot of the issuers' key sets,
// shipped with the function, lets a cold start verify tokens without the
// identity provider; a key the snapshot lacks is fetched live under the
// cooldown; and a burst of cold starts does not touch the keys endpoint.
func TestJWKSSnapshot(t *testing.T) {
	addr := freeAddr(t) // the identity provider's, kept across its restart
	idp := startIssuerAt(t, devissuer.Options{Addr: addr})
	issuers := issuersEnv(idp) // no jwks_uri: the snapshot carries discovery's
	snapshot := takeJWKSSnapshot(t, issuers)
	k := kinds[0]
	call := func(fn *function, tok string) (result, map[string]any) {
		t.Helper()
		res := fn.invoke(t, k.event("DELETE", "/orders/1", "Bearer "+tok))
		return res, fn.decisionLog(t, fn.lastRequestID())
	}

	t.Run("cold start with the identity provider down verifies tokens signed by a snapshotted key", func(t *testing.T) {
		snapshotted := mint(t, idp, "alice", groups("admins"))
		idp.Close() // nothing listens on the identity provider's address now
		fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_SNAPSHOT": snapshot, "AUTHZ_JWKS_COOLDOWN": "1s"})
		res, line := call(fn, snapshotted)
		checkOutcome(t, k, res, want{"allow", "policy_allowed", "alice"}, k.arn("DELETE", "/orders/1"))
		if line["outcome"] != "allow" {
			t.Fatalf("decision log %v", line)
		}
		out := fn.output()
		if !hasLine(out, "key sets seeded from the JWKS snapshot") || hasLine(out, "identity provider not reachable at start-up") {
			t.Fatalf("start-up should seed the key set and fetch nothing:\n%s", fn.text())
		}

		// A key published after the snapshot needs the identity provider;
		// while it is down, the token may well be good: denied (403) as the
		// provider's failure, not refused (401) as the token's.
		if _, err := idp.Rotate(); err != nil {
			t.Fatal(err)
		}
		rotated := mint(t, idp, "alice", groups("admins"))
		res, line = call(fn, rotated)
		checkOutcome(t, k, res, want{outcome: "error"}, k.arn("DELETE", "/orders/1"))
		if line["reason"] != "idp_unavailable" {
			t.Fatalf("a kid the snapshot lacks, the identity provider down: decision log %v", line)
		}

		// The identity provider comes back on its address with new keys only
		// (a rotation that removed the snapshotted key): after the cooldown,
		// a new kid is fetched live, and the snapshotted key stops verifying.
		back := startIssuerAt(t, devissuer.Options{Addr: addr})
		time.Sleep(1100 * time.Millisecond)
		res, _ = call(fn, mint(t, back, "alice", groups("admins")))
		checkOutcome(t, k, res, want{"allow", "policy_allowed", "alice"}, k.arn("DELETE", "/orders/1"))
		if n := back.KeySetFetches(); n != 1 {
			t.Fatalf("%d key set fetches for the new kid, want 1", n)
		}
		res, line = call(fn, snapshotted)
		checkOutcome(t, k, res, want{outcome: "unauthorized"}, k.arn("DELETE", "/orders/1"))
		if line["reason"] != "token_unknown_key" {
			t.Fatalf("the snapshotted key after the identity provider removed it: decision log %v", line)
		}
	})

	t.Run("a burst of cold starts does not fetch the key set", func(t *testing.T) {
		up := startIssuerAt(t, devissuer.Options{})
		issuers := issuersEnv(up)
		snapshot := takeJWKSSnapshot(t, issuers)
		before := up.KeySetFetches()
		tok := mint(t, up, "alice", groups("admins"))
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_SNAPSHOT": snapshot})
				res := fn.invoke(t, k.event("DELETE", "/orders/1", "Bearer "+tok))
				if res.Error != nil {
					t.Errorf("a snapshotted key: %+v", res.Error)
				}
			})
		}
		wg.Wait()
		if n := up.KeySetFetches() - before; n != 0 {
			t.Fatalf("%d key set fetches by 5 cold starts with a snapshot, want 0", n)
		}
	})

	t.Run("an old snapshot is used, with a warning", func(t *testing.T) {
		up := startIssuerAt(t, devissuer.Options{})
		issuers := issuersEnv(up)
		old := editSnapshot(t, takeJWKSSnapshot(t, issuers), func(s map[string]any) {
			s["issuers"].([]any)[0].(map[string]any)["taken_at"] = time.Now().Add(-40 * 24 * time.Hour).UTC().Format(time.RFC3339)
		})
		up.Close()
		fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_SNAPSHOT": old})
		res, _ := call(fn, mint(t, up, "alice", groups("admins")))
		checkOutcome(t, k, res, want{"allow", "policy_allowed", "alice"}, k.arn("DELETE", "/orders/1"))
		if !hasLine(fn.output(), `"level":"WARN","msg":"the JWKS snapshot is older than 30 days`) {
			t.Fatalf("no warning about the snapshot's age:\n%s", fn.text())
		}
	})

	t.Run("a snapshot with private key material denies every request", func(t *testing.T) {
		up := startIssuerAt(t, devissuer.Options{})
		issuers := issuersEnv(up)
		leaky := editSnapshot(t, takeJWKSSnapshot(t, issuers), func(s map[string]any) { firstKey(s)["d"] = "AQAB" })
		fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_SNAPSHOT": leaky})
		res, line := call(fn, mint(t, up, "alice", groups("admins")))
		checkOutcome(t, k, res, want{outcome: "error"}, k.arn("DELETE", "/orders/1"))
		if line["reason"] != "config_error" {
			t.Fatalf("decision log %v", line)
		}
		if !hasLine(fn.output(), "AUTHZ_JWKS_SNAPSHOT: "+leaky) || !hasLine(fn.output(), "private key material") {
			t.Fatalf("no start-up line names AUTHZ_JWKS_SNAPSHOT and the private key:\n%s", fn.text())
		}
	})
}
