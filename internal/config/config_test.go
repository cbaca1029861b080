package config

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apigw-authz/authz/internal/identity"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const issuers = `[{"issuer":"https://idp.example.com","audiences":["api"]}]`

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"AUTHZ_ISSUERS": issuers}), false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.TokenSources, identity.DefaultSources) || c.Query != "data.authz.decision" ||
		!c.SimpleResponses || !c.DecisionLog || c.AllowAmbiguousPaths || c.LogLevel != slog.LevelInfo || c.Bundle != "" || len(c.Issuers) != 1 ||
		c.JWKSCooldown != 15*time.Second || c.IdPTimeout != 3*time.Second || c.BundlePollInterval != time.Minute || c.OPAConfig != "" ||
		c.ShadowQuery != "" || !c.Metrics || c.MetricsNamespace != "Authz" || c.TokenCache != 1024 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestEverySetting(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"AUTHZ_ISSUERS":               issuers,
		"AUTHZ_TOKEN_SOURCES":         "cookie:id,header:x-token",
		"AUTHZ_BUNDLE":                " /opt/bundle.tar.gz ",
		"AUTHZ_BUNDLE_PUBLIC_KEY":     "/opt/key.pem",
		"AUTHZ_QUERY":                 "data.gw.decision",
		"AUTHZ_HTTP_SIMPLE_RESPONSES": "false",
		"AUTHZ_DECISION_LOG":          "0",
		"AUTHZ_LOG_LEVEL":             "DEBUG",
		"AUTHZ_JWKS_COOLDOWN":         "30s",
		"AUTHZ_IDP_TIMEOUT":           "1500ms",
		"AUTHZ_ALLOW_AMBIGUOUS_PATHS": "true",
		"AUTHZ_BUNDLE_POLL_INTERVAL":  "5m",
		"AUTHZ_SHADOW_QUERY":          "data.candidate.decision",
		"AUTHZ_METRICS":               "OFF",
		"AUTHZ_METRICS_NAMESPACE":     "Team/Authz prod",
		"AUTHZ_TOKEN_CACHE":           "0",
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Issuers:      c.Issuers,
		TokenSources: identity.Sources{{Kind: "cookie", Name: "id"}, {Kind: "header", Name: "x-token"}},
		Bundle:       "/opt/bundle.tar.gz", BundlePublicKey: "/opt/key.pem", Query: "data.gw.decision",
		SimpleResponses: false, DecisionLog: false, AllowAmbiguousPaths: true, LogLevel: slog.LevelDebug,
		BundlePollInterval: 5 * time.Minute,
		JWKSCooldown:       30 * time.Second, IdPTimeout: 1500 * time.Millisecond,
		ShadowQuery: "data.candidate.decision", Metrics: false, MetricsNamespace: "Team/Authz prod",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{}, []string{"AUTHZ_ISSUERS: required"}},
		{map[string]string{"AUTHZ_ISSUERS": "{"}, []string{"AUTHZ_ISSUERS: not a JSON array"}},
		{map[string]string{"AUTHZ_ISSUERS": `[{"issuer":"https://x"}]`}, []string{`AUTHZ_ISSUERS: entry 0 (https://x): field "audiences"`}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_TOKEN_SOURCES": "body:x"}, []string{"AUTHZ_TOKEN_SOURCES:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_HTTP_SIMPLE_RESPONSES": "yes please"}, []string{"AUTHZ_HTTP_SIMPLE_RESPONSES:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_DECISION_LOG": "maybe"}, []string{"AUTHZ_DECISION_LOG:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_LOG_LEVEL": "verbose"}, []string{"AUTHZ_LOG_LEVEL:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_ALLOW_AMBIGUOUS_PATHS": "sometimes"}, []string{"AUTHZ_ALLOW_AMBIGUOUS_PATHS:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_BUNDLE_POLL_INTERVAL": "100ms"}, []string{"AUTHZ_BUNDLE_POLL_INTERVAL:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_OPA_CONFIG": "{}", "AUTHZ_BUNDLE": "s3://b/k"}, []string{"AUTHZ_OPA_CONFIG: excludes AUTHZ_BUNDLE"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_SHADOW_QUERY": "candidate.decision"}, []string{"AUTHZ_SHADOW_QUERY:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_METRICS": "prometheus"}, []string{"AUTHZ_METRICS:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_METRICS_NAMESPACE": "AWS/Lambda"}, []string{"AUTHZ_METRICS_NAMESPACE:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_METRICS_NAMESPACE": "Authz{prod}"}, []string{"AUTHZ_METRICS_NAMESPACE:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_COOLDOWN": "15"}, []string{"AUTHZ_JWKS_COOLDOWN:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_COOLDOWN": "1h"}, []string{"AUTHZ_JWKS_COOLDOWN:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_IDP_TIMEOUT": "1ms"}, []string{"AUTHZ_IDP_TIMEOUT:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_TOKEN_CACHE": "-1"}, []string{"AUTHZ_TOKEN_CACHE:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_TOKEN_CACHE": "lots"}, []string{"AUTHZ_TOKEN_CACHE:"}},
		// Several mistakes are reported together.
		{map[string]string{"AUTHZ_LOG_LEVEL": "verbose", "AUTHZ_DECISION_LOG": "x"}, []string{"AUTHZ_ISSUERS:", "AUTHZ_LOG_LEVEL:", "AUTHZ_DECISION_LOG:"}},
	}
	for _, tt := range tests {
		_, err := FromEnv(env(tt.env), false)
		if err == nil {
			t.Errorf("%v: accepted", tt.env)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tt.env, err, w)
			}
		}
	}
	if _, err := FromEnv(env(map[string]string{}), true); err != nil {
		t.Errorf("issuers are optional in dev mode: %v", err)
	}
}

func TestJWKSSnapshot(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks-snapshot.json")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	leaked, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	snapshot := func(set []byte) []byte {
		b, _ := json.Marshal(map[string]any{"version": 1, "issuers": []any{map[string]any{"issuer": "https://idp.example.com",
			"jwks_uri": "https://idp.example.com/keys", "taken_at": "2026-05-01T10:00:00Z", "key_set": json.RawMessage(set)}}})
		return b
	}
	os.WriteFile(good, snapshot(set), 0o644)
	private := filepath.Join(dir, "private.json")
	os.WriteFile(private, snapshot(leaked), 0o644)

	c, err := FromEnv(env(map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_SNAPSHOT": " " + good + " "}), false)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.JWKSSnapshot; s == nil || len(s.Issuers) != 1 || !reflect.DeepEqual(s.Issuers[0].KeyIDs(), []string{"k1"}) {
		t.Fatalf("snapshot %+v", s)
	}
	if c, err := FromEnv(env(map[string]string{"AUTHZ_ISSUERS": issuers}), false); err != nil || c.JWKSSnapshot != nil {
		t.Fatalf("unset: %v %+v", err, c.JWKSSnapshot)
	}
	for file, want := range map[string]string{
		filepath.Join(dir, "missing.json"): "no such file",
		private:                            "private key material",
	} {
		_, err := FromEnv(env(map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_SNAPSHOT": file}), false)
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Variable != "AUTHZ_JWKS_SNAPSHOT" || !strings.Contains(err.Error(), "AUTHZ_JWKS_SNAPSHOT: "+file) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an AUTHZ_JWKS_SNAPSHOT error naming the file and saying %q", file, err, want)
		}
	}
}

// TestPollIntervalZeroReadsOnce: 0 is a value of its own, below the 1s floor.
func TestPollIntervalZeroReadsOnce(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_BUNDLE_POLL_INTERVAL": "0"}), false)
	if err != nil || c.BundlePollInterval != 0 {
		t.Fatalf("%v, %v", c.BundlePollInterval, err)
	}
}
