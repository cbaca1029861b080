package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/localgw"
	"github.com/apigw-authz/authz/internal/logging"
	"github.com/apigw-authz/authz/internal/loopback"
)

// defaultSourceDirs are the repository's policy and data folders, read when
// --watch is given without --bundle.
var defaultSourceDirs = []string{"rego", "bundles/default"}

// serveFlags are serve's flags, parsed.
type serveFlags struct {
	addr, kind, identitySource, backend string
	ttl                                 time.Duration
	watch, devIssuer, decisionLog       bool
	devProfile, devAddr                 string
	bundles, stageVariables, routes     listFlag
}

// newServeFlags defines serve's flags on a new flag set writing to stderr.
func newServeFlags(stderr io.Writer) (*flag.FlagSet, *serveFlags) {
	fs := flag.NewFlagSet("authz serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &serveFlags{}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "loopback `address` of the local API Gateway")
	fs.StringVar(&f.kind, "kind", "rest", "the API: rest (REST API, REQUEST authorizer) or http (HTTP API, payload 2.0)")
	fs.DurationVar(&f.ttl, "cache-ttl", 300*time.Second, "authorizer result cache TTL, as API Gateway's (0 turns it off)")
	fs.StringVar(&f.identitySource, "identity-source", "header:authorization", "identity sources API Gateway requires and caches on: a comma `list` in API Gateway's syntax ($request.header.Authorization,$context.routeKey or method.request.header.Authorization,context.httpMethod) or header:NAME, query:NAME, cookie:NAME, context:NAME, stage:NAME; empty for none, with --cache-ttl 0")
	fs.StringVar(&f.backend, "backend", "", "forward allowed requests to this `URL` (default: a built-in echo backend)")
	fs.BoolVar(&f.watch, "watch", false, "reload the policy when its files change (without --bundle: rego/ and bundles/default/)")
	fs.BoolVar(&f.devIssuer, "dev-issuer", false, "run a development OIDC issuer on loopback and trust it")
	fs.StringVar(&f.devProfile, "dev-profile", "generic", "the dev issuer's default token shape ("+strings.Join(devissuer.Profiles, ", ")+"); authz token --profile mints the others")
	fs.StringVar(&f.devAddr, "dev-issuer-addr", "127.0.0.1:8081", "loopback `address` of the dev issuer")
	fs.BoolVar(&f.decisionLog, "decision-log", false, "also print the authorizer's decision-log lines")
	fs.Var(&f.bundles, "bundle", "a bundle `directory`, .tar.gz or URL; repeat to layer directories (e.g. rego/examples/NAME and rego/lib)")
	fs.Var(&f.routes, "route", "a route of the API, `'METHOD /path/{param}'` (METHOD may be ANY, a last {name+} is greedy) or $default (HTTP APIs); repeat for each route. Requests are matched to routes as API Gateway matches them, which gives the event its route, routeKey, resourcePath and path parameters; a request no route takes is answered as API Gateway answers it (404, or 403 for a REST API). Without --route, each path is its own route")
	fs.Var(&f.stageVariables, "stage-variable", "a stage variable `NAME=value` of the local API, for events and stage identity sources (repeatable)")
	return fs, f
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs, f := newServeFlags(stderr)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "authz serve: "+format+"\n", a...)
		return exitUsage
	}
	if f.kind != "rest" && f.kind != "http" {
		return fail("--kind %q is neither rest nor http", f.kind)
	}
	if !loopback.Addr(f.addr) {
		return fail("--addr %q must be a loopback IP and port, such as 127.0.0.1:8080: this is a development gateway", f.addr)
	}
	var idSources localgw.IdentitySources
	if strings.TrimSpace(f.identitySource) != "" {
		var err error
		if idSources, err = localgw.ParseIdentitySources(f.identitySource); err != nil {
			return fail("--identity-source: %v", err)
		}
	} else if f.ttl > 0 {
		return fail("caching needs identity sources, as in API Gateway: give --identity-source or --cache-ttl 0")
	}
	routes, err := localgw.ParseRoutes(f.kind, f.routes)
	if err != nil {
		return fail("--route: %v", err)
	}
	api := localgw.DefaultAPI
	for _, sv := range f.stageVariables {
		name, value, ok := strings.Cut(sv, "=")
		if !ok || name == "" {
			return fail("--stage-variable %q is not NAME=value", sv)
		}
		if api.StageVariables == nil {
			api.StageVariables = map[string]string{}
		}
		api.StageVariables[name] = value
	}

	cfg, err := config.FromEnv(os.Getenv, true)
	if err != nil {
		return fail("%v", err)
	}
	cfg.SimpleResponses = cfg.SimpleResponses && f.kind == "http"
	bundles := f.bundles
	if len(bundles) == 0 && f.watch {
		bundles = defaultSourceDirs
	}
	// The banner's requests are the default policy's: say which policy is
	// loaded when it is another.
	policyName := ""
	switch {
	case len(f.bundles) > 0:
		policyName = strings.Join(f.bundles, " + ")
	case !f.watch && cfg.Bundle != "":
		policyName = "AUTHZ_BUNDLE " + logging.RedactURL(cfg.Bundle)
	}
	dirs, _, err := chooseBundle(&cfg, bundles)
	if err != nil {
		return fail("%v", err)
	}
	var watched []string
	if f.watch {
		for _, b := range bundles {
			if strings.Contains(b, "://") {
				return fail("--watch cannot watch the URL %q", logging.RedactURL(b))
			}
		}
		watched = dirs
	}

	var dev *devissuer.Issuer
	if f.devIssuer {
		if dev, err = devissuer.Start(devissuer.Options{Addr: f.devAddr, Profile: f.devProfile, MintEndpoint: true, AllProfiles: true}); err != nil {
			return fail("%v", err)
		}
		defer dev.Close()
		// One issuer per provider shape, side by side, as a deployment trusting
		// several identity providers would have them.
		for _, p := range devissuer.Profiles {
			cfg.Issuers = append(cfg.Issuers, identity.IssuerConfig{Issuer: dev.IssuerFor(p), Profile: p,
				Audiences: []string{dev.AcceptedAudienceFor(p)}, AccessTokenIssuer: dev.AccessTokenIssuerFor(p)})
		}
	}

	log := logging.Text(stdout, cfg.LogLevel)
	decisions := slog.New(slog.DiscardHandler)
	if f.decisionLog {
		decisions = logging.JSON(stderr, slog.LevelInfo)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := authorizer.Build(ctx, cfg, decisions)
	if err != nil {
		return fail("%s", localgw.NameSourceFiles(err.Error(), dirs))
	}
	next := localgw.Echo()
	if f.backend != "" {
		u, err := url.Parse(f.backend)
		if err != nil || u.Host == "" {
			return fail("--backend %q is not a URL", f.backend)
		}
		next = httputil.NewSingleHostReverseProxy(u)
	}
	gw := localgw.New(localgw.Options{Kind: f.kind, API: api, IdentitySources: idSources, CacheTTL: f.ttl,
		Routes: routes, Backend: next, Log: log}, a.Authorize)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fail("%v", err)
	}
	srv := &http.Server{Handler: loopback.Guard(gw), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server", "error", err.Error())
		}
	}()
	if len(watched) > 0 {
		revision := a.Revision()
		current := a
		go localgw.Watch(ctx, watched, 500*time.Millisecond, func() {
			fresh, err := authorizer.Build(ctx, cfg, decisions)
			if err != nil {
				log.Error("policy reload failed; the previous policy stays in force", "error", localgw.NameSourceFiles(err.Error(), watched))
				return
			}
			if fresh.Revision() == revision {
				_ = fresh.Close(ctx) // a test or an unrelated file changed, not the policy
				return
			}
			revision = fresh.Revision()
			gw.Replace(fresh.Authorize)
			// The old authorizer's OPA plugins stop; a request it is still
			// deciding finishes on its engine.
			old := current
			current = fresh
			go func() { _ = old.Close(context.Background()) }()
			log.Info("policy reloaded; authorizer cache emptied", "policy_revision", revision)
		})
	}
	banner(stdout, bannerInfo{base: "http://" + ln.Addr().String(), revision: a.Revision(), kind: f.kind, ttl: f.ttl,
		watched: watched, policy: policyName, bundles: f.bundles, sources: idSources, routes: routes}, dev)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return exitAllow
}

// defaultPolicy describes the embedded bundle, loaded when no bundle is given.
const defaultPolicy = "embedded default policy"

// chooseBundle sets the configuration's bundle from --bundle, and returns the
// local paths the policy is read from, to watch and to name in errors, and a
// description of the policy source for people and logs, URLs redacted. One
// archive or directory replaces AUTHZ_BUNDLE, and AUTHZ_BUNDLE_PUBLIC_KEY
// applies to it. Several directories are layered into one bundle, which
// carries no signature: with the key set, they are refused rather than read
// unverified. An empty --bundle, as an unset variable in a script gives, is
// refused: read as no flag, it tested the embedded policy instead of the one
// meant.
func chooseBundle(cfg *config.Config, bundles []string) (dirs []string, source string, err error) {
	for _, b := range bundles {
		if strings.TrimSpace(b) == "" {
			return nil, "", fmt.Errorf("--bundle %q is empty (an unset variable?): give a bundle directory, .tar.gz or URL, or leave --bundle out for AUTHZ_BUNDLE or the %s", b, defaultPolicy)
		}
	}
	signed := cfg.BundlePublicKey != ""
	switch {
	case len(bundles) == 0:
		// AUTHZ_BUNDLE, or the embedded bundle
		if cfg.Bundle == "" {
			if signed {
				return nil, "", errors.New("AUTHZ_BUNDLE_PUBLIC_KEY is set but no bundle is given (--bundle or AUTHZ_BUNDLE): the embedded bundle is not signed")
			}
			return nil, defaultPolicy, nil
		}
		source = logging.RedactURL(cfg.Bundle) + " (AUTHZ_BUNDLE)"
		if strings.Contains(cfg.Bundle, "://") {
			return nil, source, nil
		}
		return []string{cfg.Bundle}, source, nil
	case len(bundles) == 1 && (signed || !isDir(bundles[0])):
		// A .tar.gz, a URL, or a directory to verify: read as AUTHZ_BUNDLE is.
		cfg.Bundle, cfg.BundleDirs = bundles[0], nil
		if strings.Contains(bundles[0], "://") {
			return nil, logging.RedactURL(bundles[0]), nil
		}
		return bundles, bundles[0], nil
	}
	for _, b := range bundles {
		if !isDir(b) {
			return nil, "", fmt.Errorf("--bundle %q: layered bundles must be directories", b)
		}
	}
	if signed {
		return nil, "", errors.New("AUTHZ_BUNDLE_PUBLIC_KEY is set, and layered bundle directories (--bundle given more than once, or --watch without --bundle) carry no signature: give one signed bundle with --bundle, or unset the key")
	}
	cfg.Bundle, cfg.BundleDirs = "", bundles
	return bundles, strings.Join(bundles, " + "), nil
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

// bannerInfo is what the banner tells of a running gateway.
type bannerInfo struct {
	base, revision, kind string
	ttl                  time.Duration
	watched              []string
	// policy names the policy loaded when it is not the default one (whose
	// requests the banner otherwise prints); bundles are its --bundle flags.
	policy  string
	bundles []string
	sources localgw.IdentitySources
	routes  localgw.Routes
}

// banner says where everything is and what to try first: the default
// policy's requests for the default policy, a generic one for another.
func banner(w io.Writer, b bannerInfo, dev *devissuer.Issuer) {
	fmt.Fprintf(w, "\nLocal API Gateway (%s API) on %s, policy %s, authorizer cache TTL %s\n", strings.ToUpper(b.kind), b.base, b.revision, b.ttl)
	if b.policy != "" {
		fmt.Fprintf(w, "Policy: %s (not the default policy)\n", b.policy)
	}
	if len(b.watched) > 0 {
		fmt.Fprintf(w, "Watching %s: edit a rule and the next request uses it.\n", strings.Join(b.watched, ", "))
	}
	routesNote(w, b)
	switch {
	case dev == nil && b.policy == "":
		fmt.Fprintf(w, "\nTry:\n  curl -i %s/health\n\n", b.base)
	case dev == nil:
		fmt.Fprintf(w, "\nTry, with a token from an issuer of AUTHZ_ISSUERS (or start with --dev-issuer):\n  curl -i %s/ -H \"Authorization: Bearer $TOKEN\"\n\n", b.base)
	case b.policy == "":
		defaultPolicyRequests(w, b.base, dev)
	default:
		policyRequests(w, b, dev)
	}
}

// routesNote lists the routes requests are matched to; without them, it warns
// where this gateway keys its cache unlike API Gateway: a route key or
// resource path among the identity sources is the request's path here, one
// cache entry per path, where API Gateway keeps one per route and answers
// /orders/8 with what it cached for /orders/7.
func routesNote(w io.Writer, b bannerInfo) {
	if len(b.routes) > 0 {
		keys := make([]string, len(b.routes))
		other := "; any other request: 404 Not Found, as from API Gateway, without the authorizer"
		if b.kind == "rest" {
			other = "; any other request: 403 Missing Authentication Token, as from API Gateway, without the authorizer"
		}
		for i, r := range b.routes {
			keys[i] = r.Key
			if r.Key == localgw.DefaultRoute {
				other = ""
			}
		}
		fmt.Fprintf(w, "Routes: %s%s\n", strings.Join(keys, ", "), other)
		return
	}
	var perPath []string
	for _, name := range []string{"routeKey", "resourcePath", "resourceId"} {
		if b.sources.Has("context", name) {
			perPath = append(perPath, "$context."+name)
		}
	}
	if len(perPath) > 0 {
		fmt.Fprintf(w, "Note: without --route, the identity source %s is per path here (GET /orders/7), one cache entry per path; API Gateway keys the cache on the route (GET /orders/{id}) and answers /orders/8 with what it cached for /orders/7. Give your API's routes, e.g. --route 'GET /orders/{id}', to see its cache as API Gateway keeps it.\n",
			strings.Join(perPath, ", "))
	}
}

// defaultPolicyRequests are requests that show the default policy at work.
func defaultPolicyRequests(w io.Writer, base string, dev *devissuer.Issuer) {
	admin, _ := dev.MintFor(devissuer.Principal{Subject: "alice", Groups: []string{"admins"}, Roles: []string{"Orders.Admin"}})
	reader, _ := dev.MintFor(devissuer.Principal{Subject: "bob", Groups: []string{"orders-readers"}, Roles: []string{"Orders.Read"}})
	fmt.Fprintf(w, "Dev issuer on %s: %s tokens by default; authz token --profile %s\n\n", devIssuerRoot(dev.URL), dev.Profile(), strings.Join(devissuer.Profiles, "|"))
	fmt.Fprintf(w, "With the default policy, paste these:\n\n")
	fmt.Fprintf(w, "  # an admin deletes an order: 200 from the backend\n  curl -i -X DELETE %s/orders/42 -H 'Authorization: Bearer %s'\n\n", base, admin)
	fmt.Fprintf(w, "  # a reader deletes an order: 403\n  curl -i -X DELETE %s/orders/42 -H 'Authorization: Bearer %s'\n\n", base, reader)
	fmt.Fprintf(w, "  # no token: 401\n  curl -i %s/orders\n\n", base)
	fmt.Fprintf(w, "More tokens: bin/authz token --issuer %s --sub carol --groups orders-writers\n", devIssuerRoot(dev.URL))
	fmt.Fprintf(w, "One request explained: bin/authz check --sub bob --groups orders-readers --method DELETE --path /orders/42\n\n")
}

// policyRequests are requests that fit any policy: the routes, groups and
// roles it knows are its own.
func policyRequests(w io.Writer, b bannerInfo, dev *devissuer.Issuer) {
	tok, _ := dev.MintFor(devissuer.Principal{Subject: "alice"})
	root := devIssuerRoot(dev.URL)
	fmt.Fprintf(w, "Dev issuer on %s: %s tokens by default; authz token --profile %s\n\n", root, dev.Profile(), strings.Join(devissuer.Profiles, "|"))
	fmt.Fprintf(w, "Requests for your policy (its routes, groups and roles are yours to fill in):\n\n")
	fmt.Fprintf(w, "  # alice, without groups, roles or scopes: what your policy answers\n  curl -i %s/ -H 'Authorization: Bearer %s'\n\n", b.base, tok)
	if b.sources.Has("header", "authorization") {
		fmt.Fprintf(w, "  # no token: 401, the identity source is missing\n  curl -i %s/\n\n", b.base)
	}
	fmt.Fprintf(w, "More tokens: bin/authz token --issuer %s --sub alice --groups GROUP --roles ROLE --scopes SCOPE\n", root)
	bundles := ""
	for _, bundle := range b.bundles {
		bundles += " --bundle " + bundle
	}
	fmt.Fprintf(w, "One request explained: bin/authz check%s --sub alice --groups GROUP --method GET --path /PATH\n\n", bundles)
}

// devIssuerRoot is the dev issuer's origin, where its mint endpoint lives.
func devIssuerRoot(issuerURL string) string {
	u, err := url.Parse(issuerURL)
	if err != nil {
		return issuerURL
	}
	return u.Scheme + "://" + u.Host
}
