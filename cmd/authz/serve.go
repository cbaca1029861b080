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

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authz serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr        = fs.String("addr", "127.0.0.1:8080", "loopback `address` of the local API Gateway")
		kind        = fs.String("kind", "rest", "the API: rest (REST API, REQUEST authorizer) or http (HTTP API, payload 2.0)")
		ttl         = fs.Duration("cache-ttl", 300*time.Second, "authorizer result cache TTL, as API Gateway's (0 turns it off)")
		sources     = fs.String("identity-source", "header:authorization", "identity sources API Gateway requires and caches on (header:NAME, query:NAME, cookie:NAME; comma list; empty for none, with --cache-ttl 0)")
		backend     = fs.String("backend", "", "forward allowed requests to this `URL` (default: a built-in echo backend)")
		watch       = fs.Bool("watch", false, "reload the policy when its files change (without --bundle: rego/ and bundles/default/)")
		devIssuer   = fs.Bool("dev-issuer", false, "run a development OIDC issuer on loopback and trust it")
		devProfile  = fs.String("dev-profile", "generic", "the dev issuer's default token shape ("+strings.Join(devissuer.Profiles, ", ")+"); authz token --profile mints the others")
		devAddr     = fs.String("dev-issuer-addr", "127.0.0.1:8081", "loopback `address` of the dev issuer")
		decisionLog = fs.Bool("decision-log", false, "also print the authorizer's decision-log lines")
		bundles     listFlag
	)
	fs.Var(&bundles, "bundle", "a bundle `directory`, .tar.gz or URL; repeat to layer directories (e.g. rego/examples/NAME and rego/lib)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "authz serve: "+format+"\n", a...)
		return exitUsage
	}
	if *kind != "rest" && *kind != "http" {
		return fail("--kind %q is neither rest nor http", *kind)
	}
	if !loopback.Addr(*addr) {
		return fail("--addr %q must be a loopback IP and port, such as 127.0.0.1:8080: this is a development gateway", *addr)
	}
	var idSources identity.Sources
	if strings.TrimSpace(*sources) != "" {
		var err error
		if idSources, err = identity.ParseSources(*sources); err != nil {
			return fail("--identity-source: %v", err)
		}
	} else if *ttl > 0 {
		return fail("caching needs identity sources, as in API Gateway: give --identity-source or --cache-ttl 0")
	}

	cfg, err := config.FromEnv(os.Getenv, true)
	if err != nil {
		return fail("%v", err)
	}
	cfg.SimpleResponses = cfg.SimpleResponses && *kind == "http"
	watched, err := chooseBundle(&cfg, bundles, *watch)
	if err != nil {
		return fail("%v", err)
	}

	var dev *devissuer.Issuer
	if *devIssuer {
		if dev, err = devissuer.Start(devissuer.Options{Addr: *devAddr, Profile: *devProfile, MintEndpoint: true, AllProfiles: true}); err != nil {
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
	if *decisionLog {
		decisions = logging.JSON(stderr, slog.LevelInfo)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := authorizer.Build(ctx, cfg, decisions)
	if err != nil {
		return fail("%v", err)
	}
	next := localgw.Echo()
	if *backend != "" {
		u, err := url.Parse(*backend)
		if err != nil || u.Host == "" {
			return fail("--backend %q is not a URL", *backend)
		}
		next = httputil.NewSingleHostReverseProxy(u)
	}
	gw := localgw.New(localgw.Options{Kind: *kind, API: localgw.DefaultAPI, IdentitySources: idSources, CacheTTL: *ttl,
		Backend: next, Log: log}, a.Authorize)

	ln, err := net.Listen("tcp", *addr)
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
		go localgw.Watch(ctx, watched, 500*time.Millisecond, func() {
			fresh, err := authorizer.Build(ctx, cfg, decisions)
			if err != nil {
				log.Error("policy reload failed; the previous policy stays in force", "error", err.Error())
				return
			}
			if fresh.Revision() == revision {
				return // a test or an unrelated file changed, not the policy
			}
			revision = fresh.Revision()
			gw.Replace(fresh.Authorize)
			log.Info("policy reloaded; authorizer cache emptied", "policy_revision", revision)
		})
	}
	banner(stdout, "http://"+ln.Addr().String(), a.Revision(), *kind, *ttl, watched, dev)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return exitAllow
}

// chooseBundle sets the configuration's bundle from --bundle and --watch, and
// returns the paths to watch.
func chooseBundle(cfg *config.Config, bundles []string, watch bool) ([]string, error) {
	if len(bundles) == 0 && watch {
		bundles = defaultSourceDirs
	}
	switch {
	case len(bundles) == 0:
		return nil, nil // AUTHZ_BUNDLE, or the embedded bundle
	case len(bundles) == 1 && !isDir(bundles[0]):
		cfg.Bundle = bundles[0] // a .tar.gz or a URL
	default:
		for _, b := range bundles {
			if !isDir(b) {
				return nil, fmt.Errorf("--bundle %q: layered bundles must be directories", b)
			}
		}
		cfg.Bundle, cfg.BundlePublicKey, cfg.BundleDirs = "", "", bundles
	}
	if !watch {
		return nil, nil
	}
	for _, b := range bundles {
		if strings.Contains(b, "://") {
			return nil, fmt.Errorf("--watch cannot watch the URL %q", b)
		}
	}
	return bundles, nil
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

// banner says where everything is and what to try first.
func banner(w io.Writer, base, revision, kind string, ttl time.Duration, watched []string, dev *devissuer.Issuer) {
	fmt.Fprintf(w, "\nLocal API Gateway (%s API) on %s, policy %s, authorizer cache TTL %s\n", strings.ToUpper(kind), base, revision, ttl)
	if len(watched) > 0 {
		fmt.Fprintf(w, "Watching %s: edit a rule and the next request uses it.\n", strings.Join(watched, ", "))
	}
	if dev == nil {
		fmt.Fprintf(w, "\nTry:\n  curl -i %s/health\n\n", base)
		return
	}
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

// devIssuerRoot is the dev issuer's origin, where its mint endpoint lives.
func devIssuerRoot(issuerURL string) string {
	u, err := url.Parse(issuerURL)
	if err != nil {
		return issuerURL
	}
	return u.Scheme + "://" + u.Host
}
