package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/util"

	"github.com/apigw-authz/authz/internal/decisionlog"
	"github.com/apigw-authz/authz/internal/logging"
	"github.com/apigw-authz/authz/internal/loopback"
	"github.com/apigw-authz/authz/internal/policy"
)

// Options say where the policy comes from, as the environment says it.
type Options struct {
	// OPAConfig is AUTHZ_OPA_CONFIG: an OPA configuration in YAML or JSON, or a
	// path to one.
	OPAConfig string
	// Bundle is AUTHZ_BUNDLE: a remote bundle (https://, loopback http://,
	// s3://bucket/key), a bundle in the function package, or "" for the
	// embedded one.
	Bundle string
	// PublicKey is AUTHZ_BUNDLE_PUBLIC_KEY (see policy.PublicKeys).
	PublicKey string
	// PollInterval is AUTHZ_BUNDLE_POLL_INTERVAL: how often a remote bundle is
	// checked; 0 reads it once.
	PollInterval time.Duration
	// Query is AUTHZ_QUERY.
	Query string
	// Shadow is AUTHZ_SHADOW_QUERY; "" for none.
	Shadow string
	// Dirs, for local tools, are folders read as one bundle (see
	// policy.Options.Dirs); they win over OPAConfig and Bundle.
	Dirs []string
	// Decisions, when set, is attached to OPA's decision-log plugin, so that
	// every decision is dropped, masked and uploaded as OPA would.
	Decisions *decisionlog.Logger
	// Mentions, for local tools, keeps what the policy names of the request
	// (see policy.Options.Mentions).
	Mentions bool
	// Getenv reads the AWS variables Lambda sets (AWS_REGION,
	// AWS_ENDPOINT_URL_S3). Default os.Getenv.
	Getenv func(string) string
}

// Remote reports whether AUTHZ_BUNDLE names a bundle that is fetched, and so
// polled, rather than one in the function package.
func Remote(bundle string) bool {
	for _, scheme := range []string{"https://", "http://", "s3://"} {
		if strings.HasPrefix(bundle, scheme) {
			return true
		}
	}
	return false
}

// bundleName is the name of the bundle the simple variables configure.
const bundleName = "authz"

// supportedSections are the top-level keys of an OPA configuration that the
// authorizer runs. The others configure parts of OPA it does not run (a server,
// discovery, status reports): accepting them silently would let a security
// team believe they work.
var supportedSections = []string{"services", "bundles", "keys", "labels", "persistence_directory", "decision_logs"}

// config is an OPA configuration the authorizer can run, and what it takes from
// it.
type config struct {
	raw []byte // for plugins.New
	// remote is true when the configuration names bundles for OPA to fetch;
	// false when the policy is the bundle in the function package.
	remote bool
	// interval is how often the bundles are checked; 0 for never again.
	interval time.Duration
	// limits stand for the services' credentials (see limitsPlugin), to be
	// registered with the plugin manager.
	limits map[string]*limitsPlugin
	// describe says where the policy comes from, for the start-up line.
	describe string
}

// buildConfig turns the options into the OPA configuration to run: the one
// AUTHZ_OPA_CONFIG gives, checked; one translated from AUTHZ_BUNDLE and its
// variables for a remote bundle; or, for a bundle in the function package,
// one with nothing but the decision log. Errors name the variable.
func buildConfig(opts Options) (*config, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.OPAConfig != "" && len(opts.Dirs) == 0 {
		c, err := userConfig(opts.OPAConfig)
		if err != nil {
			return nil, fmt.Errorf("AUTHZ_OPA_CONFIG: %v", err)
		}
		if c.remote && (opts.Bundle != "" || opts.PublicKey != "") {
			return nil, errors.New("AUTHZ_OPA_CONFIG excludes AUTHZ_BUNDLE and AUTHZ_BUNDLE_PUBLIC_KEY when it names bundles: give the bundle and its keys in the OPA configuration")
		}
		if !c.remote && Remote(opts.Bundle) {
			return nil, errors.New("AUTHZ_OPA_CONFIG excludes AUTHZ_BUNDLE with a URL: give the bundle, its service and its keys in the OPA configuration")
		}
		return c, nil
	}
	if Remote(opts.Bundle) {
		c, err := simpleConfig(opts)
		if err != nil {
			return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", logging.RedactURL(opts.Bundle), err)
		}
		return c, nil
	}
	return finish(map[string]any{}, nil, 0, "")
}

// userConfig reads and checks a standard OPA configuration.
func userConfig(setting string) (*config, error) {
	text := []byte(setting)
	trimmed := strings.TrimSpace(setting)
	if !strings.HasPrefix(trimmed, "{") && !strings.Contains(trimmed, "\n") && !strings.Contains(trimmed, ": ") {
		b, err := os.ReadFile(trimmed)
		if err != nil {
			return nil, fmt.Errorf("neither an OPA configuration nor a readable file: %v", err)
		}
		text = b
	}
	var doc map[string]any
	if err := util.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %v", err)
	}
	if doc == nil {
		return nil, errors.New("the configuration is empty")
	}
	for key := range doc {
		if !slices.Contains(supportedSections, key) {
			return nil, fmt.Errorf("section %q is not supported here (supported: %s)", key, strings.Join(supportedSections, ", "))
		}
	}
	if err := checkShape(doc); err != nil {
		return nil, err
	}
	services, err := serviceMap(doc["services"])
	if err != nil {
		return nil, err
	}
	for name, raw := range services {
		var svc struct {
			URL  string `json:"url"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &svc); err != nil {
			return nil, fmt.Errorf("service %q: %v", name, err)
		}
		if svc.Type != "" && svc.Type != "http" {
			return nil, fmt.Errorf("service %q: type %q is not supported; use an HTTP bundle service or S3", name, svc.Type)
		}
		if err := checkServiceURL(svc.URL); err != nil {
			return nil, fmt.Errorf("service %q: %v", name, err)
		}
	}
	keys, _ := doc["keys"].(map[string]any)
	for id := range keys {
		if strings.TrimSpace(id) == "" {
			// OPA once verified a bundle against an empty key id without
			// checking its signature (GHSA-g2pf-6v5v-qcc8).
			return nil, errors.New("keys: a key id is empty")
		}
	}
	bundles, _ := doc["bundles"].(map[string]any)
	if _, ok := doc["bundles"]; ok && len(bundles) == 0 {
		return nil, errors.New(`"bundles" is empty: name at least one, or leave the section out to run the bundle of AUTHZ_BUNDLE or the embedded one`)
	}
	interval := time.Duration(0)
	for name, v := range bundles {
		src, _ := v.(map[string]any)
		if src == nil {
			return nil, fmt.Errorf("bundle %q: not an object", name)
		}
		if len(keys) > 0 && src["signing"] == nil {
			// OPA accepts an unsigned bundle when keys are configured but the
			// bundle has no signing block; a security team configuring keys
			// means every bundle to be signed.
			return nil, fmt.Errorf(`bundle %q: keys are configured but the bundle has no "signing" block, so OPA would accept it unsigned; add signing: {keyid: ...} or signing: {} (the signature's own key id)`, name)
		}
		if resource, _ := src["resource"].(string); isFileURL(resource) {
			return nil, fmt.Errorf("bundle %q: file:// resources are not supported here; use AUTHZ_BUNDLE for a bundle in the function package", name)
		}
		every, err := pollingOf(src)
		if err != nil {
			return nil, fmt.Errorf("bundle %q: %v", name, err)
		}
		if interval == 0 || (every > 0 && every < interval) {
			interval = every
		}
		// Lambda freezes the process between invocations, which stops OPA's
		// own timer: the authorizer triggers the download itself, at
		// invocation time (see Policy.Decide).
		src["trigger"] = "manual"
	}
	if dir, ok := doc["persistence_directory"]; ok {
		s, _ := dir.(string)
		if clean := filepath.Clean(s); clean != "/tmp" && !strings.HasPrefix(clean, "/tmp/") {
			return nil, fmt.Errorf("persistence_directory %q: only /tmp is writable in Lambda", s)
		}
	}
	for _, v := range bundles {
		src, _ := v.(map[string]any)
		if src["persist"] == true && doc["persistence_directory"] == nil {
			doc["persistence_directory"] = "/tmp/authz-opa"
		}
		if src["size_limit_bytes"] == nil {
			src["size_limit_bytes"] = policy.MaxBundleFileBytes
		}
	}
	names := make([]string, 0, len(bundles))
	for name := range bundles {
		names = append(names, name)
	}
	sort.Strings(names)
	describe := "AUTHZ_OPA_CONFIG bundles " + strings.Join(names, ", ")
	if len(names) == 0 {
		describe = "AUTHZ_OPA_CONFIG without bundles"
	}
	return finish(doc, services, interval, describe)
}

// finish puts the limits plugin in front of every service of doc, completes
// its decision_logs section, and gives the configuration to run.
func finish(doc map[string]any, services map[string]json.RawMessage, interval time.Duration, describe string) (*config, error) {
	if err := decisionLogs(doc); err != nil {
		return nil, err
	}
	limits, err := withLimits(doc, services)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	_, remote := doc["bundles"]
	return &config{raw: raw, remote: remote, interval: interval, limits: limits, describe: describe}, nil
}

// isFileURL reports whether a bundle resource names a local file, as OPA
// reads it: the scheme without regard to case.
func isFileURL(resource string) bool {
	u, err := url.Parse(strings.TrimSpace(resource))
	return err == nil && strings.EqualFold(u.Scheme, "file")
}

// The keys the authorizer lets through, object by object. OPA matches keys
// without regard to case ("Resource" is resource) and ignores those it does
// not know, so a key the checks here do not see must not reach OPA: only
// these, spelt exactly, are accepted.
var (
	serviceKeys = []string{"name", "url", "headers", "credentials", "response_header_timeout_seconds", "tls", "type"}
	sourceKeys  = []string{"service", "resource", "signing", "persist", "size_limit_bytes", "polling", "trigger"}
	// No exclude_files (files left out of the signature could be changed)
	// and no allow_unsigned_delta_bundles.
	signingKeys = []string{"keyid", "scope"}
	pollingKeys = []string{"min_delay_seconds", "max_delay_seconds", "long_polling_timeout_seconds"}
	keyKeys     = []string{"key", "algorithm", "scope", "private_key"}
	tlsKeys     = []string{"ca_cert", "system_ca_required"}
	// The authorizer writes each decision to stdout itself (no console) and
	// uploads at invocation time (no trigger); a request's HTTP context and
	// the non-deterministic built-ins' cache are not there to log.
	decisionLogKeys = []string{"service", "resource", "partition_name", "reporting", "mask_decision", "drop_decision"}
	reportingKeys   = []string{"buffer_type", "buffer_size_limit_bytes", "buffer_size_limit_events", "upload_size_limit_bytes",
		"min_delay_seconds", "max_delay_seconds", "max_decisions_per_second"}
)

// defaultReportingDelay is how often events are uploaded to a decision-log
// service when the configuration does not say: at invocation time, as soon
// as this has passed since the last upload (OPA's own default, five
// minutes, suits a server, not a function that may be shut down any time).
const defaultReportingDelay = 10

// decisionLogs completes doc's decision_logs section, the user's or none:
// OPA's decision-log plugin hands every event, dropped or masked, to the
// authorizer's sink, which writes the line (decisionlog.SinkName); uploads,
// when a service is named, are triggered by the authorizer.
func decisionLogs(doc map[string]any) error {
	section, _ := doc["decision_logs"].(map[string]any)
	if section == nil {
		section = map[string]any{}
	}
	reporting, _ := section["reporting"].(map[string]any)
	if reporting == nil {
		reporting = map[string]any{}
	}
	if reporting["min_delay_seconds"] == nil && reporting["max_delay_seconds"] == nil {
		reporting["min_delay_seconds"] = defaultReportingDelay
		reporting["max_delay_seconds"] = 2 * defaultReportingDelay
	}
	reporting["trigger"] = "manual"
	section["reporting"] = reporting
	section["plugin"] = decisionlog.SinkName
	doc["decision_logs"] = section
	return nil
}

// checkShape refuses keys of an OPA configuration that the authorizer does not
// check, or that weaken what it promises: a signing block that leaves files
// out, a service that accepts any TLS certificate.
func checkShape(doc map[string]any) error {
	only := func(where string, v any, allowed []string) (map[string]any, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an object", where)
		}
		for k := range m {
			if !slices.Contains(allowed, k) {
				return nil, fmt.Errorf("%s: %q is not supported here (supported: %s)", where, k, strings.Join(allowed, ", "))
			}
		}
		return m, nil
	}
	var services []any
	switch s := doc["services"].(type) {
	case map[string]any:
		for _, v := range s {
			services = append(services, v)
		}
	case []any:
		services = s
	}
	for i, v := range services {
		svc, err := only(fmt.Sprintf("services[%d]", i), v, serviceKeys)
		if err != nil {
			return err
		}
		if tls, ok := svc["tls"]; ok {
			if _, err := only(fmt.Sprintf("services[%d].tls", i), tls, tlsKeys); err != nil {
				return err
			}
		}
	}
	bundles, _ := doc["bundles"].(map[string]any)
	for name, v := range bundles {
		src, err := only("bundle "+strconv.Quote(name), v, sourceKeys)
		if err != nil {
			return err
		}
		if s, ok := src["signing"]; ok {
			if _, err := only("bundle "+strconv.Quote(name)+" signing", s, signingKeys); err != nil {
				return err
			}
		}
		if p, ok := src["polling"]; ok {
			if _, err := only("bundle "+strconv.Quote(name)+" polling", p, pollingKeys); err != nil {
				return err
			}
		}
	}
	keys, _ := doc["keys"].(map[string]any)
	for id, v := range keys {
		if _, err := only("key "+strconv.Quote(id), v, keyKeys); err != nil {
			return err
		}
	}
	if v, ok := doc["decision_logs"]; ok {
		section, err := only("decision_logs", v, decisionLogKeys)
		if err != nil {
			return err
		}
		if r, ok := section["reporting"]; ok {
			if _, err := only("decision_logs reporting", r, reportingKeys); err != nil {
				return err
			}
		}
		if svc, ok := section["service"].(string); ok && svc != "" {
			if _, known := serviceNamed(doc["services"], svc); !known {
				return fmt.Errorf("decision_logs: service %q is not one of the services", svc)
			}
		}
	}
	return nil
}

// serviceNamed finds a service of OPA's services, a list or an object.
func serviceNamed(v any, name string) (any, bool) {
	switch s := v.(type) {
	case map[string]any:
		svc, ok := s[name]
		return svc, ok
	case []any:
		for _, svc := range s {
			if m, _ := svc.(map[string]any); m != nil && m["name"] == name {
				return svc, true
			}
		}
	}
	return nil, false
}

// serviceMap reads OPA's services, a list of named objects or an object of
// objects.
func serviceMap(v any) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	switch s := v.(type) {
	case nil:
	case map[string]any:
		for name, svc := range s {
			b, err := json.Marshal(svc)
			if err != nil {
				return nil, err
			}
			out[name] = b
		}
	case []any:
		for i, svc := range s {
			m, _ := svc.(map[string]any)
			name, _ := m["name"].(string)
			if name == "" {
				return nil, fmt.Errorf("services[%d]: no name", i)
			}
			b, err := json.Marshal(svc)
			if err != nil {
				return nil, err
			}
			out[name] = b
		}
	default:
		return nil, errors.New("services: neither a list nor an object")
	}
	return out, nil
}

// checkServiceURL allows https, and http for loopback hosts only.
func checkServiceURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("url %q is not an absolute URL", logging.RedactURL(raw))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback.Host(u.Hostname()):
		return nil
	}
	return fmt.Errorf("url %q: only https, or http on a loopback host", logging.RedactURL(raw))
}

// pollingOf reads a bundle's polling settings as the interval the
// authorizer checks it at: min_delay_seconds, OPA's shortest wait.
func pollingOf(src map[string]any) (time.Duration, error) {
	polling, _ := src["polling"].(map[string]any)
	if polling == nil {
		return 60 * time.Second, nil
	}
	for _, k := range []string{"long_polling_timeout_seconds"} {
		if polling[k] != nil {
			return 0, fmt.Errorf("polling.%s is not supported: a frozen Lambda cannot hold a long poll", k)
		}
	}
	switch v := polling["min_delay_seconds"].(type) {
	case nil:
		return 60 * time.Second, nil
	case json.Number:
		n, err := v.Int64()
		if err != nil || n <= 0 {
			return 0, errors.New("polling.min_delay_seconds must be a positive whole number")
		}
		return time.Duration(n) * time.Second, nil
	case float64:
		if v <= 0 {
			return 0, errors.New("polling.min_delay_seconds must be positive")
		}
		return time.Duration(v) * time.Second, nil
	}
	return 0, errors.New("polling.min_delay_seconds is not a number")
}

// simpleConfig translates AUTHZ_BUNDLE (a remote URL), its public keys and its
// poll interval into an OPA configuration of one bundle.
func simpleConfig(opts Options) (*config, error) {
	u, err := url.Parse(opts.Bundle)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	svc := map[string]any{}
	var resource string
	switch u.Scheme {
	case "s3":
		// The key as written, as the AWS CLI reads s3:// URLs: "team%20a" is
		// a key with a percent sign, not a space.
		bucket := u.Host
		key := strings.TrimPrefix(strings.TrimPrefix(opts.Bundle, "s3://"+bucket), "/")
		if bucket == "" || key == "" {
			return nil, errors.New("s3:// needs a bucket and a key: s3://BUCKET/path/to/bundle.tar.gz")
		}
		if u.RawQuery != "" || u.User != nil {
			return nil, errors.New("s3:// takes no query or user information")
		}
		base, err := s3Base(bucket, opts.Getenv)
		if err != nil {
			return nil, err
		}
		svc["url"] = base
		// OPA signs each request with Signature Version 4 from the
		// credentials Lambda puts in the environment (AWS_ACCESS_KEY_ID,
		// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION).
		svc["credentials"] = map[string]any{"s3_signing": map[string]any{"environment_credentials": map[string]any{}}}
		resource = s3Escape(key)
	case "https", "http":
		if err := checkServiceURL(opts.Bundle); err != nil {
			return nil, err
		}
		svc["url"] = u.Scheme + "://" + u.Host
		resource = strings.TrimPrefix(u.EscapedPath(), "/")
		if u.RawQuery != "" {
			resource += "?" + u.RawQuery
		}
		if u.User != nil {
			return nil, errors.New("user information in the URL is not supported; use AUTHZ_OPA_CONFIG with a bearer or client TLS credential")
		}
	default:
		return nil, errors.New("not https://, loopback http:// or s3://")
	}
	src := map[string]any{"service": "bundle", "resource": resource, "trigger": "manual",
		// Each file is held to the authorizer's own limit; the whole archive
		// is checked by the services' clients (see limitsPlugin).
		"size_limit_bytes": policy.MaxBundleFileBytes}
	doc := map[string]any{"services": map[string]any{"bundle": svc}, "bundles": map[string]any{bundleName: src}}
	if opts.PublicKey != "" {
		keys, err := policy.PublicKeys(opts.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("AUTHZ_BUNDLE_PUBLIC_KEY: %v", err)
		}
		cfg := map[string]any{}
		for id, k := range keys {
			cfg[id] = map[string]any{"key": k.Key, "algorithm": k.Algorithm}
		}
		doc["keys"] = cfg
		signing := map[string]any{}
		if _, ok := keys[policy.DefaultKeyID]; ok && len(keys) == 1 {
			signing["keyid"] = policy.DefaultKeyID
		}
		// With several keys, the signature's own key id chooses the key, so
		// that a bundle signed by the new key and one signed by the old both
		// verify during a rotation.
		src["signing"] = signing
	}
	raw, err := json.Marshal(svc)
	if err != nil {
		return nil, err
	}
	return finish(doc, map[string]json.RawMessage{"bundle": raw}, opts.PollInterval, logging.RedactURL(opts.Bundle))
}

// s3Base is the URL of a bucket: AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) and
// the bucket as the first path segment, for S3-compatible stores and tests,
// or the bucket's virtual-hosted endpoint in AWS_REGION.
func s3Base(bucket string, getenv func(string) string) (string, error) {
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if endpoint := strings.TrimSuffix(getenv(v), "/"); endpoint != "" {
			if err := checkServiceURL(endpoint); err != nil {
				return "", fmt.Errorf("%s: %v", v, err)
			}
			return endpoint + "/" + path.Clean(bucket), nil
		}
	}
	region := getenv("AWS_REGION")
	if region == "" {
		return "", errors.New("AWS_REGION is not set; Lambda sets it, elsewhere set it to the bucket's region")
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	if strings.Contains(bucket, ".") {
		// A bucket name with dots does not fit the wildcard certificate of
		// virtual-hosted URLs: path style.
		return "https://s3." + region + "." + domain + "/" + bucket, nil
	}
	return "https://" + bucket + ".s3." + region + "." + domain, nil
}

// s3Escape escapes an object key for the request path, segment by segment, as
// Signature Version 4 expects: "+" too, which S3 could otherwise read as a
// space.
func s3Escape(key string) string {
	segments := strings.Split(key, "/")
	for i, s := range segments {
		segments[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	return strings.Join(segments, "/")
}
