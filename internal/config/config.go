// Package config reads the authorizer's configuration from the environment
// (contract section 2). Every error names the variable at fault and says what is
// wrong with it; nothing here has a default that weakens a check.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/apigw-authz/authz/internal/delivery"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

// Config is the parsed configuration.
type Config struct {
	Issuers         []identity.IssuerConfig
	TokenSources    identity.Sources
	Bundle          string
	BundlePublicKey string
	// BundlePollInterval is AUTHZ_BUNDLE_POLL_INTERVAL: how often a remote
	// bundle is checked; 0 reads it once.
	BundlePollInterval time.Duration
	// OPAConfig is AUTHZ_OPA_CONFIG: a standard OPA configuration, or a path
	// to one. It excludes Bundle and BundlePublicKey.
	OPAConfig       string
	Query           string
	SimpleResponses bool
	DecisionLog     bool
	// AllowAmbiguousPaths is AUTHZ_ALLOW_AMBIGUOUS_PATHS: let paths with dot
	// segments or encoded separators reach the policy instead of denying them.
	AllowAmbiguousPaths bool
	LogLevel            slog.Level
	// JWKSCooldown is the least time between two fetches of a key set.
	JWKSCooldown time.Duration
	// IdPTimeout bounds each fetch of a discovery document or key set.
	IdPTimeout time.Duration
	// TokenCache is AUTHZ_TOKEN_CACHE: how many verified tokens are
	// remembered until their exp; 0 verifies every token every time.
	TokenCache int
	// JWKSSnapshot is the file AUTHZ_JWKS_SNAPSHOT names, read and checked: key
	// sets to start from instead of fetching them. Nil when unset.
	JWKSSnapshot *identity.Snapshot
	// BundleDirs, set by local tools and never by the environment, are source
	// folders read as one bundle instead of Bundle.
	BundleDirs []string
	// PolicyMentions, set by local tools, keeps what the policy names of the
	// request, for the cache-safety probes (policy.Options.Mentions).
	PolicyMentions bool
	// ShadowQuery is AUTHZ_SHADOW_QUERY: a second decision evaluated on the
	// same input after the live one, logged and never enforced; "" for none.
	ShadowQuery string
	// Metrics is AUTHZ_METRICS: true (emf) to carry CloudWatch Embedded Metric
	// Format metadata in the log lines.
	Metrics bool
	// MetricsNamespace is AUTHZ_METRICS_NAMESPACE, the CloudWatch namespace.
	MetricsNamespace string
}

// Error is a configuration error of one variable.
type Error struct {
	Variable string
	Err      error
}

func (e *Error) Error() string { return e.Variable + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// FromEnv reads the configuration with getenv (os.Getenv in production). When
// issuersOptional is true, as in local development with a dev issuer,
// AUTHZ_ISSUERS may be unset. All errors are returned together.
func FromEnv(getenv func(string) string, issuersOptional bool) (Config, error) {
	c := Config{
		TokenSources:     identity.DefaultSources,
		Bundle:           strings.TrimSpace(getenv("AUTHZ_BUNDLE")),
		BundlePublicKey:  strings.TrimSpace(getenv("AUTHZ_BUNDLE_PUBLIC_KEY")),
		Query:            policy.DefaultQuery,
		SimpleResponses:  true,
		DecisionLog:      true,
		LogLevel:         slog.LevelInfo,
		JWKSCooldown:     15 * time.Second,
		IdPTimeout:       3 * time.Second,
		OPAConfig:        strings.TrimSpace(getenv("AUTHZ_OPA_CONFIG")),
		Metrics:          true,
		MetricsNamespace: "Authz",
		TokenCache:       1024,
	}
	var errs []error
	bad := func(variable string, err error) { errs = append(errs, &Error{Variable: variable, Err: err}) }

	if v := strings.TrimSpace(getenv("AUTHZ_ISSUERS")); v != "" {
		issuers, err := identity.ParseIssuers(v)
		if err != nil {
			bad("AUTHZ_ISSUERS", err)
		}
		c.Issuers = issuers
	} else if !issuersOptional {
		bad("AUTHZ_ISSUERS", errors.New(`required: a JSON array of trusted issuers, e.g. [{"issuer":"https://dev-123.okta.com/oauth2/default","audiences":["api://default"],"profile":"okta"}]`))
	}
	if v := strings.TrimSpace(getenv("AUTHZ_TOKEN_SOURCES")); v != "" {
		sources, err := identity.ParseSources(v)
		if err != nil {
			bad("AUTHZ_TOKEN_SOURCES", err)
		}
		c.TokenSources = sources
	}
	if v := strings.TrimSpace(getenv("AUTHZ_QUERY")); v != "" {
		c.Query = v
	}
	var err error
	if c.SimpleResponses, err = boolean(getenv("AUTHZ_HTTP_SIMPLE_RESPONSES"), true); err != nil {
		bad("AUTHZ_HTTP_SIMPLE_RESPONSES", err)
	}
	if c.DecisionLog, err = boolean(getenv("AUTHZ_DECISION_LOG"), true); err != nil {
		bad("AUTHZ_DECISION_LOG", err)
	}
	if c.AllowAmbiguousPaths, err = boolean(getenv("AUTHZ_ALLOW_AMBIGUOUS_PATHS"), false); err != nil {
		bad("AUTHZ_ALLOW_AMBIGUOUS_PATHS", err)
	}
	if v := strings.TrimSpace(getenv("AUTHZ_LOG_LEVEL")); v != "" {
		switch strings.ToLower(v) {
		case "debug":
			c.LogLevel = slog.LevelDebug
		case "info":
			c.LogLevel = slog.LevelInfo
		case "warn":
			c.LogLevel = slog.LevelWarn
		case "error":
			c.LogLevel = slog.LevelError
		default:
			bad("AUTHZ_LOG_LEVEL", fmt.Errorf("%q is not one of debug, info, warn, error", v))
		}
	}
	if c.JWKSCooldown, err = duration(getenv("AUTHZ_JWKS_COOLDOWN"), c.JWKSCooldown, time.Second, 10*time.Minute); err != nil {
		bad("AUTHZ_JWKS_COOLDOWN", err)
	}
	if c.IdPTimeout, err = duration(getenv("AUTHZ_IDP_TIMEOUT"), c.IdPTimeout, 100*time.Millisecond, 10*time.Second); err != nil {
		bad("AUTHZ_IDP_TIMEOUT", err)
	}
	if v := strings.TrimSpace(getenv("AUTHZ_TOKEN_CACHE")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			bad("AUTHZ_TOKEN_CACHE", fmt.Errorf("%q is not a number of tokens from 0 (no cache) to 100000", v))
		} else {
			c.TokenCache = n
		}
	}
	if c.BundlePollInterval, err = pollInterval(getenv("AUTHZ_BUNDLE_POLL_INTERVAL")); err != nil {
		bad("AUTHZ_BUNDLE_POLL_INTERVAL", err)
	}
	if c.OPAConfig != "" && delivery.Remote(c.Bundle) {
		// An OPA configuration without bundles may add decision-log uploads
		// to a bundle in the function package; a fetched bundle belongs in it.
		bad("AUTHZ_OPA_CONFIG", errors.New("excludes AUTHZ_BUNDLE with a URL: give the bundle, its service and its keys in the OPA configuration"))
	}
	if v := strings.TrimSpace(getenv("AUTHZ_SHADOW_QUERY")); v != "" {
		if err := policy.CheckQuery(v); err != nil {
			bad("AUTHZ_SHADOW_QUERY", fmt.Errorf("%q: must be a reference into data, like data.candidate.decision", v))
		}
		c.ShadowQuery = v
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("AUTHZ_METRICS"))); v {
	case "", "emf":
	case "off":
		c.Metrics = false
	default:
		bad("AUTHZ_METRICS", fmt.Errorf("%q is not emf or off", v))
	}
	if v := strings.TrimSpace(getenv("AUTHZ_METRICS_NAMESPACE")); v != "" {
		if err := checkNamespace(v); err != nil {
			bad("AUTHZ_METRICS_NAMESPACE", err)
		}
		c.MetricsNamespace = v
	}
	if v := strings.TrimSpace(getenv("AUTHZ_JWKS_SNAPSHOT")); v != "" {
		if c.JWKSSnapshot, err = identity.ReadSnapshot(v); err != nil {
			bad("AUTHZ_JWKS_SNAPSHOT", fmt.Errorf("%v (write it with authz jwks snapshot, or unset the variable)", err))
		}
	}
	return c, errors.Join(errs...)
}

// checkNamespace holds a CloudWatch namespace to CloudWatch's rules: 1 to
// 255 characters of letters, digits and . - _ / # : and space, and not
// starting with "AWS/", which is AWS's own.
func checkNamespace(v string) error {
	if len(v) > 255 || strings.HasPrefix(v, "AWS/") {
		return fmt.Errorf("%q is not a custom CloudWatch namespace (at most 255 characters, not AWS/...)", v)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_/#: ", r)) {
			return fmt.Errorf("%q: %q is not allowed in a CloudWatch namespace (letters, digits and . - _ / # : space)", v, r)
		}
	}
	return nil
}

// pollInterval reads AUTHZ_BUNDLE_POLL_INTERVAL: 0 (read the bundle once), or
// a duration from 1s to 24h; 60s when unset.
func pollInterval(v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "0" {
		return 0, nil
	}
	d, err := duration(v, time.Minute, time.Second, 24*time.Hour)
	if err != nil {
		return d, fmt.Errorf("%v, or 0 to read the bundle once", err)
	}
	return d, nil
}

func duration(v string, def, lo, hi time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return def, fmt.Errorf("%q is not a duration between %s and %s, such as 15s", v, lo, hi)
	}
	return d, nil
}

func boolean(v string, def bool) (bool, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}
