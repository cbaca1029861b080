package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"

	"github.com/apigw-authz/authz/internal/loopback"
	"github.com/apigw-authz/authz/internal/policy"
)

// limitsPlugin is the credentials of one service, as its configuration gives
// them (S3 signing, a bearer token, client TLS, OAuth2, …), with the bundle
// limits of internal/policy put in front of OPA's bundle reader: OPA reads
// every file of a downloaded bundle into memory before it checks the
// signature, so the client of each service reads and measures a bundle first
// and hands OPA only one within the limits. OPA's own credential plugins do
// the signing: this one only wraps the HTTP client they build.
//
// The plugin manager looks a credentials plugin up among its plugins, so this
// is one too, with nothing to start.
type limitsPlugin struct {
	// credentials is the service's own "credentials" object.
	credentials json.RawMessage

	mu     sync.Mutex
	plugin rest.HTTPAuthPlugin // OPA's, built from credentials on first use
}

// limitsPluginName names the plugin standing for a service's credentials.
func limitsPluginName(service string) string { return "authz_limits_" + service }

// withLimits puts a limits plugin in front of every service's credentials, and
// returns the plugins to register.
func withLimits(doc map[string]any, services map[string]json.RawMessage) (map[string]*limitsPlugin, error) {
	plugins := map[string]*limitsPlugin{}
	rewritten := map[string]any{}
	for name, raw := range services {
		var svc map[string]any
		if err := json.Unmarshal(raw, &svc); err != nil {
			return nil, fmt.Errorf("service %q: %v", name, err)
		}
		creds, err := json.Marshal(svc["credentials"])
		if err != nil {
			return nil, err
		}
		var probe rest.Config
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("service %q: %v", name, err)
		}
		if probe.Credentials.Plugin != nil {
			return nil, fmt.Errorf("service %q: credentials plugins are not supported here", name)
		}
		// The manager's service list must not keep its name inside the object
		// (a list entry carries one); the map key names it.
		delete(svc, "name")
		svc["credentials"] = map[string]any{"plugin": limitsPluginName(name)}
		rewritten[name] = svc
		plugins[limitsPluginName(name)] = &limitsPlugin{credentials: creds}
	}
	if len(rewritten) > 0 {
		doc["services"] = rewritten
	}
	return plugins, nil
}

// NewClient builds the service's client with its own credentials, and wraps
// its transport with the bundle limits.
func (p *limitsPlugin) NewClient(c rest.Config) (*http.Client, error) {
	inner, err := p.inner(c)
	if err != nil {
		return nil, err
	}
	client, err := inner.NewClient(c)
	if err != nil {
		return nil, err
	}
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	wrapped := *client
	wrapped.Transport = limitedTransport{next: next}
	// A bundle service may redirect (S3 does, to a bucket's region), but
	// never off https, except on loopback.
	wrapped.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if r.URL.Scheme != "https" && !(r.URL.Scheme == "http" && loopback.Host(r.URL.Hostname())) {
			return fmt.Errorf("refusing a redirect to %s://%s", r.URL.Scheme, r.URL.Host)
		}
		return nil
	}
	return &wrapped, nil
}

// Prepare signs or authenticates each request as the service's credentials do.
func (p *limitsPlugin) Prepare(req *http.Request) error {
	// OPA's S3 and OAuth2 plugins keep state between NewClient and Prepare
	// (credentials, tokens): the same inner plugin serves both.
	inner, err := p.inner(rest.Config{})
	if err != nil {
		return err
	}
	return inner.Prepare(req)
}

// inner is the credential plugin the service's configuration names: OPA's
// own, decoded once.
func (p *limitsPlugin) inner(c rest.Config) (rest.HTTPAuthPlugin, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plugin != nil {
		return p.plugin, nil
	}
	// The manager's configuration names this plugin; the inner plugin is
	// the service's own credentials, and only those.
	var zero rest.Config
	c.Credentials = zero.Credentials
	if err := json.Unmarshal([]byte(`{"credentials":`+string(p.credentials)+`}`), &c); err != nil {
		return nil, err
	}
	plugin, err := c.AuthPlugin(nil)
	if err != nil {
		return nil, err
	}
	p.plugin = plugin
	return plugin, nil
}

// Start, Stop and Reconfigure make limitsPlugin a plugin of the manager: it
// has nothing to run.
func (*limitsPlugin) Start(context.Context) error { return nil }

// Stop does nothing.
func (*limitsPlugin) Stop(context.Context) {}

// Reconfigure does nothing.
func (*limitsPlugin) Reconfigure(context.Context, any) {}

var _ plugins.Plugin = (*limitsPlugin)(nil)

// limitedTransport reads every successful GET response, a bundle, through the
// bundle limits before OPA sees it.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > policy.MaxBundleBytes {
		return nil, fmt.Errorf("the bundle is %d bytes, over the %d MiB limit", resp.ContentLength, policy.MaxBundleBytes>>20)
	}
	archive, err := policy.ReadArchive(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(archive))
	resp.ContentLength = int64(len(archive))
	resp.Header.Set("Content-Length", strconv.Itoa(len(archive)))
	return resp, nil
}
