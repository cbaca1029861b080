package delivery

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/decisionlog"
)

func publicPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// decoded is the configuration given to OPA, as a map, and its services'
// original credentials.
func decoded(t *testing.T, c *config) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSimpleConfig(t *testing.T) {
	key := publicPEM(t)
	tests := []struct {
		name      string
		opts      Options
		url       string
		resource  string
		signing   any // the bundle's signing block, nil for none
		creds     string
		keys      []string
		wantError string
	}{
		{name: "https", opts: Options{Bundle: "https://policies.example.com/prod/bundle.tar.gz", PollInterval: time.Minute},
			url: "https://policies.example.com", resource: "prod/bundle.tar.gz", creds: "null"},
		{name: "a presigned URL keeps its query", opts: Options{Bundle: "https://b.s3.amazonaws.com/x.tar.gz?X-Amz-Signature=abc"},
			url: "https://b.s3.amazonaws.com", resource: "x.tar.gz?X-Amz-Signature=abc", creds: "null"},
		{name: "http on loopback", opts: Options{Bundle: "http://127.0.0.1:8000/b.tar.gz"}, url: "http://127.0.0.1:8000", resource: "b.tar.gz", creds: "null"},
		{name: "http elsewhere", opts: Options{Bundle: "http://policies.example.com/b.tar.gz"}, wantError: "only https, or http on a loopback host"},
		{name: "s3 in a region", opts: Options{Bundle: "s3://acme-policies/prod/bundle.tar.gz", Getenv: env(map[string]string{"AWS_REGION": "eu-west-1"})},
			url: "https://acme-policies.s3.eu-west-1.amazonaws.com", resource: "prod/bundle.tar.gz", creds: `{"s3_signing":{"environment_credentials":{}}}`},
		{name: "s3 in China", opts: Options{Bundle: "s3://b/k.tar.gz", Getenv: env(map[string]string{"AWS_REGION": "cn-north-1"})},
			url: "https://b.s3.cn-north-1.amazonaws.com.cn", resource: "k.tar.gz", creds: `{"s3_signing":{"environment_credentials":{}}}`},
		{name: "s3 at an endpoint", opts: Options{Bundle: "s3://b/k.tar.gz", Getenv: env(map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000/"})},
			url: "http://127.0.0.1:9000/b", resource: "k.tar.gz", creds: `{"s3_signing":{"environment_credentials":{}}}`},
		{name: "s3 keys as written", opts: Options{Bundle: "s3://b/team%20a/x+y.tar.gz", Getenv: env(map[string]string{"AWS_REGION": "us-east-1"})},
			url: "https://b.s3.us-east-1.amazonaws.com", resource: "team%2520a/x%2By.tar.gz", creds: `{"s3_signing":{"environment_credentials":{}}}`},
		{name: "s3 bucket with dots: path style", opts: Options{Bundle: "s3://acme.policies/k.tar.gz", Getenv: env(map[string]string{"AWS_REGION": "eu-west-1"})},
			url: "https://s3.eu-west-1.amazonaws.com/acme.policies", resource: "k.tar.gz", creds: `{"s3_signing":{"environment_credentials":{}}}`},
		{name: "s3 without a region", opts: Options{Bundle: "s3://b/k.tar.gz", Getenv: env(nil)}, wantError: "AWS_REGION is not set"},
		{name: "s3 without a key", opts: Options{Bundle: "s3://b", Getenv: env(map[string]string{"AWS_REGION": "us-east-1"})}, wantError: "needs a bucket and a key"},
		{name: "s3 at a non-loopback http endpoint", opts: Options{Bundle: "s3://b/k", Getenv: env(map[string]string{"AWS_REGION": "x", "AWS_ENDPOINT_URL_S3": "http://minio.internal:9000"})},
			wantError: "AWS_ENDPOINT_URL_S3"},
		{name: "one key verifies under default", opts: Options{Bundle: "https://h/b.tar.gz", PublicKey: key},
			url: "https://h", resource: "b.tar.gz", signing: map[string]any{"keyid": "default"}, keys: []string{"default"}, creds: "null"},
		{name: "keys by id: the signature's key id chooses", opts: Options{Bundle: "https://h/b.tar.gz", PublicKey: `{"2026-10":` + jsonString(key) + `,"2026-11":` + jsonString(key) + `}`},
			url: "https://h", resource: "b.tar.gz", signing: map[string]any{}, keys: []string{"2026-10", "2026-11"}, creds: "null"},
		{name: "an empty key id", opts: Options{Bundle: "https://h/b.tar.gz", PublicKey: `{"":` + jsonString(key) + `}`}, wantError: "a key id is empty"},
		{name: "user information", opts: Options{Bundle: "https://u:p@h/b.tar.gz"}, wantError: "user information"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Getenv == nil {
				tt.opts.Getenv = env(nil)
			}
			c, err := buildConfig(tt.opts)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) || !strings.Contains(err.Error(), "AUTHZ_BUNDLE") {
					t.Fatalf("error %v, want one naming AUTHZ_BUNDLE and %q", err, tt.wantError)
				}
				if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), ":p@") {
					t.Fatalf("the error repeats a credential: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := decoded(t, c)
			svc := m["services"].(map[string]any)["bundle"].(map[string]any)
			src := m["bundles"].(map[string]any)["authz"].(map[string]any)
			if svc["url"] != tt.url || src["resource"] != tt.resource || src["trigger"] != "manual" || src["service"] != "bundle" {
				t.Fatalf("service %v, bundle %v", svc, src)
			}
			// The service's own credentials stand behind the limits plugin.
			if creds := svc["credentials"].(map[string]any); creds["plugin"] != limitsPluginName("bundle") {
				t.Fatalf("credentials %v", creds)
			}
			if got := string(c.limits[limitsPluginName("bundle")].credentials); got != tt.creds {
				t.Fatalf("inner credentials %s, want %s", got, tt.creds)
			}
			if sig, _ := json.Marshal(src["signing"]); string(sig) != mustJSON(tt.signing) {
				t.Fatalf("signing %s, want %s", sig, mustJSON(tt.signing))
			}
			keys, _ := m["keys"].(map[string]any)
			if len(keys) != len(tt.keys) {
				t.Fatalf("keys %v, want %v", keys, tt.keys)
			}
			for _, id := range tt.keys {
				if k, _ := keys[id].(map[string]any); k["algorithm"] != "ES256" {
					t.Fatalf("key %s: %v", id, keys[id])
				}
			}
			if c.interval != tt.opts.PollInterval {
				t.Fatalf("interval %v", c.interval)
			}
		})
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestUserConfig(t *testing.T) {
	key := jsonString(publicPEM(t))
	tests := []struct {
		name      string
		config    string
		wantError string
		check     func(t *testing.T, c *config, m map[string]any)
	}{
		{name: "OPA's documented shape, in YAML", config: `
services:
  acme:
    url: https://bundles.example.com
    credentials:
      bearer:
        token: SECRET
bundles:
  authz:
    service: acme
    resource: bundles/authz.tar.gz
    polling:
      min_delay_seconds: 30
      max_delay_seconds: 60
    signing:
      keyid: global
keys:
  global:
    algorithm: ES256
    key: ` + key + `
labels:
  app: orders
`, check: func(t *testing.T, c *config, m map[string]any) {
			if c.interval != 30*time.Second {
				t.Errorf("interval %v, want min_delay_seconds", c.interval)
			}
			src := m["bundles"].(map[string]any)["authz"].(map[string]any)
			if src["trigger"] != "manual" || src["size_limit_bytes"] == nil {
				t.Errorf("bundle %v", src)
			}
			if string(c.limits[limitsPluginName("acme")].credentials) != `{"bearer":{"token":"SECRET"}}` {
				t.Errorf("credentials %s", c.limits[limitsPluginName("acme")].credentials)
			}
			if strings.Contains(string(c.raw), "SECRET") {
				t.Error("the manager's configuration still holds the token; only the limits plugin should")
			}
		}},
		{name: "services as a list", config: `{"services":[{"name":"s","url":"https://h"}],"bundles":{"b":{"service":"s"}}}`,
			check: func(t *testing.T, c *config, m map[string]any) {
				if m["services"].(map[string]any)["s"] == nil || c.interval != time.Minute {
					t.Errorf("%v, interval %v", m["services"], c.interval)
				}
			}},
		{name: "decision logs to a service, without bundles", config: `{"services":{"logs":{"url":"https://collector.example"}},"decision_logs":{"service":"logs","reporting":{"min_delay_seconds":5,"max_delay_seconds":9}}}`,
			check: func(t *testing.T, c *config, m map[string]any) {
				if c.remote {
					t.Error("a configuration without bundles runs the bundle in the function package")
				}
				dl := m["decision_logs"].(map[string]any)
				rep := dl["reporting"].(map[string]any)
				if dl["plugin"] != decisionlog.SinkName || dl["service"] != "logs" || rep["trigger"] != "manual" || rep["min_delay_seconds"] != 5.0 {
					t.Errorf("decision_logs %v", dl)
				}
			}},
		{name: "decision logs by default", config: `{"services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s"}}}`,
			check: func(t *testing.T, c *config, m map[string]any) {
				dl := m["decision_logs"].(map[string]any)
				rep := dl["reporting"].(map[string]any)
				if !c.remote || dl["plugin"] != decisionlog.SinkName || dl["service"] != nil || rep["trigger"] != "manual" ||
					rep["min_delay_seconds"] != float64(defaultReportingDelay) {
					t.Errorf("decision_logs %v", dl)
				}
			}},
		{name: "persist gets a writable folder", config: `{"services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s","persist":true}}}`,
			check: func(t *testing.T, c *config, m map[string]any) {
				if m["persistence_directory"] != "/tmp/authz-opa" {
					t.Errorf("persistence_directory %v", m["persistence_directory"])
				}
			}},
		{name: "discovery", config: `{"discovery":{"service":"s"}}`, wantError: `section "discovery" is not supported`},
		{name: "decision_logs console", config: `{"decision_logs":{"console":true}}`, wantError: `decision_logs: "console" is not supported`},
		{name: "decision_logs plugin", config: `{"decision_logs":{"plugin":"x"}}`, wantError: `decision_logs: "plugin" is not supported`},
		{name: "decision_logs trigger", config: `{"services":{"s":{"url":"https://h"}},"decision_logs":{"service":"s","reporting":{"trigger":"periodic"}}}`,
			wantError: `decision_logs reporting: "trigger" is not supported`},
		{name: "decision_logs unknown service", config: `{"services":{"s":{"url":"https://h"}},"decision_logs":{"service":"t"}}`,
			wantError: `decision_logs: service "t" is not one of the services`},
		{name: "status", config: `{"status":{"service":"s"}}`, wantError: `section "status"`},
		{name: "empty bundles", config: `{"services":{"s":{"url":"https://h"}},"bundles":{}}`, wantError: `"bundles" is empty`},
		{name: "keys without signing", config: `{"services":{"s":{"url":"https://h"}},"keys":{"k":{"key":` + key + `}},"bundles":{"b":{"service":"s"}}}`,
			wantError: `no "signing" block`},
		{name: "an empty key id", config: `{"services":{"s":{"url":"https://h"}},"keys":{"":{"key":` + key + `}},"bundles":{"b":{"service":"s","signing":{}}}}`,
			wantError: "a key id is empty"},
		{name: "a file resource", config: `{"bundles":{"b":{"resource":"file:///var/task/b.tar.gz"}}}`, wantError: "file://"},
		{name: "OCI", config: `{"services":{"s":{"url":"https://h","type":"oci"}},"bundles":{"b":{"service":"s"}}}`, wantError: `type "oci"`},
		{name: "plain http elsewhere", config: `{"services":{"s":{"url":"http://h"}},"bundles":{"b":{"service":"s"}}}`, wantError: "only https"},
		{name: "long polling", config: `{"services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s","polling":{"long_polling_timeout_seconds":10}}}}`,
			wantError: "long_polling_timeout_seconds"},
		{name: "a folder outside /tmp", config: `{"persistence_directory":"/var/task/opa","services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s"}}}`,
			wantError: "only /tmp is writable"},
		{name: "a key in another case", config: `{"services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s","Resource":"file:///var/task/b.tar.gz"}}}`,
			wantError: `"Resource" is not supported`},
		{name: "a file URL in capitals", config: `{"bundles":{"b":{"resource":"FILE:///var/task/b.tar.gz"}}}`, wantError: "file://"},
		{name: "files left out of the signature", config: `{"services":{"s":{"url":"https://h"}},"keys":{"k":{"key":` + key + `}},"bundles":{"b":{"service":"s","signing":{"keyid":"k","exclude_files":["data.json"]}}}}`,
			wantError: `"exclude_files" is not supported`},
		{name: "unsigned delta bundles", config: `{"services":{"s":{"url":"https://h"}},"keys":{"k":{"key":` + key + `}},"bundles":{"b":{"service":"s","signing":{"allow_unsigned_delta_bundles":true}}}}`,
			wantError: `"allow_unsigned_delta_bundles" is not supported`},
		{name: "any TLS certificate", config: `{"services":{"s":{"url":"https://h","allow_insecure_tls":true}},"bundles":{"b":{"service":"s"}}}`,
			wantError: `"allow_insecure_tls" is not supported`},
		{name: "a folder next to /tmp", config: `{"persistence_directory":"/tmpx","services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s"}}}`,
			wantError: "only /tmp is writable"},
		{name: "a folder out of /tmp", config: `{"persistence_directory":"/tmp/../var/task","services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s"}}}`,
			wantError: "only /tmp is writable"},
		{name: "not YAML", config: "{", wantError: "not YAML or JSON"},
		{name: "no such file", config: "/nonexistent/opa.yaml", wantError: "neither an OPA configuration nor a readable file"},
		{name: "with AUTHZ_BUNDLE", config: `{"services":{"s":{"url":"https://h"}},"bundles":{"b":{"service":"s"}}}`, wantError: "excludes AUTHZ_BUNDLE"},
		{name: "with AUTHZ_BUNDLE as a URL", config: `{"services":{"s":{"url":"https://h"}},"decision_logs":{"service":"s"}}`, wantError: "excludes AUTHZ_BUNDLE with a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{OPAConfig: tt.config}
			if strings.HasPrefix(tt.name, "with AUTHZ_BUNDLE") {
				opts.Bundle = "https://h/b.tar.gz"
			}
			c, err := buildConfig(opts)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, decoded(t, c))
		})
	}
}
