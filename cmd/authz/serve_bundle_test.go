package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/config"
)

// TestEmptyBundleIsRefused: `--bundle "$UNSET"` in a CI step evaluated the
// embedded default policy and passed. An empty or blank --bundle is a usage
// error naming the flag, for check and serve, wherever it is among the flags.
func TestEmptyBundleIsRefused(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	t.Setenv("AUTHZ_BUNDLE", "")
	t.Setenv("AUTHZ_BUNDLE_PUBLIC_KEY", "")
	request := []string{"--sub", "alice", "--groups", "admins", "--method", "DELETE", "--path", "/orders/1"}
	for _, value := range []string{"", " ", "\t\n"} {
		for _, args := range [][]string{
			append([]string{"check", "--bundle", value}, request...),
			append(append([]string{"check"}, request...), "--bundle="+value),
			{"check", "--bundle", allowAll(t), "--bundle", value, "--path", "/"},
			{"serve", "--addr", "127.0.0.1:0", "--bundle", value},
			{"serve", "--addr", "127.0.0.1:0", "--watch", "--bundle", value},
		} {
			code, stdout, stderr := runWithin(t, 10*time.Second, args...)
			if code != exitUsage || !strings.Contains(stderr, "--bundle") || !strings.Contains(stderr, "empty") {
				t.Errorf("authz %q: exit %d, want %d naming an empty --bundle\nstdout:\n%s\nstderr:\n%s", args, code, exitUsage, stdout, stderr)
			}
		}
	}
}

// runWithin runs authz, and gives up on it (exit -1) if it does not return
// within d: serve serves until interrupted.
func runWithin(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := run(args, strings.NewReader(""), &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(d):
		return -1, "", "(still running after " + d.String() + ")"
	}
}

// TestChooseBundleDescribesTheSource: check and serve say which policy they
// loaded, with a URL's credentials redacted, so that a CI log shows whether the
// candidate or the default policy was tested.
func TestChooseBundleDescribesTheSource(t *testing.T) {
	a, b := allowAll(t), allowAll(t)
	tests := []struct {
		name, env string
		bundles   []string
		want      string
	}{
		{"nothing given", "", nil, "embedded default policy"},
		{"AUTHZ_BUNDLE", a, nil, a + " (AUTHZ_BUNDLE)"},
		{"AUTHZ_BUNDLE, a presigned URL", "https://user:pw@bucket.example/b.tar.gz?X-Amz-Signature=SECRET", nil,
			"https://REDACTED@bucket.example/b.tar.gz?REDACTED (AUTHZ_BUNDLE)"},
		{"--bundle over AUTHZ_BUNDLE", "https://bucket.example/b.tar.gz", []string{a}, a},
		{"--bundle, a presigned URL", "", []string{"https://bucket.example/b.tar.gz?X-Amz-Signature=SECRET"}, "https://bucket.example/b.tar.gz?REDACTED"},
		{"layered --bundle", "", []string{a, b}, a + " + " + b},
	}
	for _, tt := range tests {
		cfg := config.Config{Bundle: tt.env}
		_, source, err := chooseBundle(&cfg, tt.bundles)
		if err != nil || source != tt.want {
			t.Errorf("%s: %q (%v), want %q", tt.name, source, err, tt.want)
		}
	}
}

// TestCheckSaysWhichPolicyItLoaded: check's output, text and JSON, names the
// policy source beside its revision.
func TestCheckSaysWhichPolicyItLoaded(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	t.Setenv("AUTHZ_BUNDLE", "")
	t.Setenv("AUTHZ_BUNDLE_PUBLIC_KEY", "")
	candidate := allowAll(t)
	for _, tt := range []struct {
		bundles []string
		want    string
	}{
		{nil, "embedded default policy"},
		{[]string{"--bundle", candidate}, candidate},
	} {
		args := append([]string{"check", "--path", "/orders"}, tt.bundles...)
		_, stdout, stderr := runAuthz(t, "", args...)
		if !strings.Contains(stdout, ", "+tt.want+")\n") || !strings.Contains(stdout, "Decision") {
			t.Errorf("%q: the text does not name %q beside the revision:\n%s%s", args, tt.want, stdout, stderr)
		}
		_, stdout, stderr = runAuthz(t, "", append(args, "--json")...)
		var rep struct {
			Source   string `json:"policy_source"`
			Revision string `json:"policy_revision"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Source != tt.want || rep.Revision == "" {
			t.Errorf("%q --json: policy_source %q, revision %q (%v), want %q\n%s", args, rep.Source, rep.Revision, err, tt.want, stderr)
		}
	}
}
