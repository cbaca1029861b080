package config

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

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
		c.JWKSCooldown != 15*time.Second || c.IdPTimeout != 3*time.Second {
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
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Issuers:      c.Issuers,
		TokenSources: identity.Sources{{Kind: "cookie", Name: "id"}, {Kind: "header", Name: "x-token"}},
		Bundle:       "/opt/bundle.tar.gz", BundlePublicKey: "/opt/key.pem", Query: "data.gw.decision",
		SimpleResponses: false, DecisionLog: false, AllowAmbiguousPaths: true, LogLevel: slog.LevelDebug,
		JWKSCooldown: 30 * time.Second, IdPTimeout: 1500 * time.Millisecond,
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
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_COOLDOWN": "15"}, []string{"AUTHZ_JWKS_COOLDOWN:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_JWKS_COOLDOWN": "1h"}, []string{"AUTHZ_JWKS_COOLDOWN:"}},
		{map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_IDP_TIMEOUT": "1ms"}, []string{"AUTHZ_IDP_TIMEOUT:"}},
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
