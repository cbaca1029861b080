// Package identity turns a bearer token into a verified, normalised principal:
// the contract's input.token. It chooses the issuer by the token's iss among the
// configured ones, runs every check that needs no key, verifies the signature
// with go-oidc against the issuer's key set, and maps the provider's claims to
// scopes, groups and roles by the issuer's profile.
//
// It never lets an unverified claim through: the claims it returns are the
// payload bytes the signature covers, and any doubt is an error. It never logs or
// returns the token.
package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Options tune the verifier. Zero values take the defaults.
type Options struct {
	// HTTPTimeout bounds each fetch of a discovery document or key set. Default 3s,
	// well under a Lambda authorizer's timeout.
	HTTPTimeout time.Duration
	// MaxResponseBytes caps each discovery document and key set. Default 1 MiB.
	MaxResponseBytes int64
	// KeyCooldown is the least time between two fetches of a key set, and between
	// two discovery attempts after a failure. Default 15s.
	KeyCooldown time.Duration
	// KeyMaxAge is how long keys are used before they are fetched again. Default 1h.
	KeyMaxAge time.Duration
	// Logger receives fetch failures. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// HTTPClient replaces the bounded client built from the options above.
	HTTPClient *http.Client
	// Snapshot, when set, gives issuers their key sets (and discovery's
	// jwks_uri) before any fetch: see Snapshot.
	Snapshot *Snapshot
	// TokenCacheSize bounds the tokens remembered after they verify (see
	// tokenCache), within 1 MiB of tokens. Default 1024; negative turns the
	// cache off.
	TokenCacheSize int
}

func (o *Options) defaults() {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = 3 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 1 << 20
	}
	if o.KeyCooldown <= 0 {
		o.KeyCooldown = 15 * time.Second
	}
	if o.KeyMaxAge <= 0 {
		o.KeyMaxAge = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = newClient(o.HTTPTimeout, o.MaxResponseBytes)
	}
	if o.TokenCacheSize == 0 {
		o.TokenCacheSize = 1024
	}
}

// Verifier verifies tokens of the configured issuers. It is safe for concurrent
// use and meant to live as long as the process: discovery documents and keys are
// fetched once and shared.
type Verifier struct {
	opts      Options
	byIssuer  map[string]*issuer // exact iss values, access_token_issuer included
	templates []*issuer          // issuers with {tenantid}

	mu      sync.Mutex
	keySets map[string]*keySet // by URL, shared by issuers with the same set

	cache *tokenCache // nil when off
}

// issuer is one configured issuer and its lazily built go-oidc verifiers.
type issuer struct {
	cfg     IssuerConfig
	profile *profile
	names   map[string]ClaimNames
	split   map[string]string
	// prefix and suffix surround {tenantid} in a template issuer.
	prefix, suffix string
	// tenant is the tenant id in the path of an issuer that is not a template.
	tenant string
	// oktaOrg is true for an Okta org authorization server.
	oktaOrg bool

	mu           sync.Mutex
	keys         *keySet
	verifiers    map[string]*oidc.IDTokenVerifier // by the exact iss they check
	discovering  chan struct{}                    // closed when the running discovery ends
	triedAt      time.Time                        // the last discovery attempt
	discoveryErr error                            // why it failed
}

// New returns a verifier for the issuers. It makes no network call: discovery and
// keys are fetched by Warm or on first use, unless opts.Snapshot holds them.
func New(issuers []IssuerConfig, opts Options) (*Verifier, error) {
	opts.defaults()
	v := &Verifier{opts: opts, byIssuer: map[string]*issuer{}, keySets: map[string]*keySet{}}
	if opts.TokenCacheSize > 0 {
		v.cache = newTokenCache(opts.TokenCacheSize)
	}
	for i := range issuers {
		cfg := issuers[i]
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("identity: issuer %q: %v", cfg.Issuer, err)
		}
		p := profiles[cfg.Profile]
		iss := &issuer{cfg: cfg, profile: p, names: p.claimNames(cfg.Claims), split: p.separators(cfg.Split),
			tenant: tenantOf(cfg.Issuer), oktaOrg: p.name == "okta" && isOktaOrgServer(cfg.Issuer),
			verifiers: map[string]*oidc.IDTokenVerifier{}}
		if prefix, suffix, ok := strings.Cut(cfg.Issuer, tenantPlaceholder); ok {
			iss.prefix, iss.suffix = prefix, suffix
			v.templates = append(v.templates, iss)
		} else {
			v.byIssuer[cfg.Issuer] = iss
		}
		if cfg.AccessTokenIssuer != "" {
			v.byIssuer[cfg.AccessTokenIssuer] = iss
		}
	}
	if err := checkDistinct(issuers); err != nil {
		return nil, fmt.Errorf("identity: %v", err)
	}
	if opts.Snapshot != nil {
		v.seed(opts.Snapshot)
	}
	return v, nil
}

// Warm discovers every issuer and fetches its keys, so that the first requests do
// not wait for them. Issuers sharing a key set fetch it once: whichever comes
// after that fetch gets its outcome (see keySet.refresh). Failures are returned
// and retried on use.
func (v *Verifier) Warm(ctx context.Context) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, iss := range v.all() {
		wg.Go(func() {
			keys, err := v.keysOf(ctx, iss)
			if err == nil && !keys.held() { // seeded, or fetched for another issuer
				err = keys.refresh(ctx)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", iss.cfg.Issuer, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (v *Verifier) all() []*issuer {
	out := slices.Clone(v.templates)
	for _, iss := range v.byIssuer {
		if !slices.Contains(out, iss) {
			out = append(out, iss)
		}
	}
	return out
}

// Verify checks raw and returns its verified, normalised token. Every error is an
// *Error whose Reason says what failed.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	if len(raw) > MaxTokenBytes {
		return nil, fail(ReasonMalformed, "the token has %d bytes, over the %d-byte limit", len(raw), MaxTokenBytes)
	}
	key := cacheKey(raw)
	if tok, ok := v.cache.get(key, v.opts.Now()); ok {
		return tok, nil
	}
	u, err := inspect(raw)
	if err != nil {
		return nil, err
	}
	claimedIss, err := stringClaim(u.claims, "iss")
	if err != nil {
		return nil, err
	}
	iss, tenant, err := v.lookup(claimedIss)
	if err != nil {
		return nil, err // no fetch for an issuer nobody configured
	}
	// Everything that needs no key is checked first, so that a token meant for
	// someone else, or stale, costs no signature check.
	if err := v.precheck(iss, u, tenant); err != nil {
		return nil, err
	}
	verifier, keys, err := v.verifierFor(ctx, iss, claimedIss)
	if err != nil {
		return nil, err
	}
	// Read before the signature check: keys that change during it make the
	// cache entry stale at once.
	gen, _ := keys.generation()
	rec := &verification{}
	if _, err := verifier.Verify(context.WithValue(ctx, verificationKey{}, rec), raw); err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case rec.err != nil:
			return nil, rec.err
		case errors.As(err, &expired):
			return nil, fail(ReasonExpired, "the token expired at %s", expired.Expiry.UTC().Format(time.RFC3339))
		default:
			return nil, oidcError(err)
		}
	}
	// The checked claims are the verified ones only if the signature covers the
	// very bytes they were decoded from.
	if !bytes.Equal(rec.payload, u.payload) {
		return nil, fail(ReasonSignature, "the verified payload differs from the one read")
	}
	tok := iss.token(u, claimedIss)
	// Cached only if the keys did not change meanwhile (the first fetch of a
	// set is a change too): the next verification caches it then.
	if after, _ := keys.generation(); after == gen {
		v.cache.put(key, len(raw), tok, keys, gen, v.opts.Now())
	}
	return tok, nil
}

// lookup finds the issuer of iss and the tenant iss names: an exact entry, or a
// template whose tenant is allowed. It also recognises an Okta org server next
// to a configured Okta custom server, to say why its tokens are refused.
func (v *Verifier) lookup(iss string) (*issuer, string, error) {
	if e, ok := v.byIssuer[iss]; ok {
		return e, e.tenant, nil
	}
	for _, e := range v.templates {
		if !strings.HasPrefix(iss, e.prefix) || !strings.HasSuffix(iss, e.suffix) || len(iss) <= len(e.prefix)+len(e.suffix) {
			continue
		}
		tenant := iss[len(e.prefix) : len(iss)-len(e.suffix)]
		if !slices.Contains(e.cfg.Tenants, tenant) {
			return nil, "", fail(ReasonTenant, "the tenant of iss %q is not in the tenants of %s", truncate(iss, 100), e.cfg.Issuer)
		}
		return e, tenant, nil
	}
	for _, e := range v.byIssuer {
		if e.profile.name == "okta" && sameOrigin(e.cfg.Issuer, iss) && isOktaOrgServer(iss) {
			return nil, "", errOktaOrgToken
		}
	}
	return nil, "", fail(ReasonUnknownIssuer, "iss %q is not a configured issuer", truncate(iss, 100))
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

// precheck runs the checks that need no key: algorithm, type, profile, audience,
// client, times.
func (v *Verifier) precheck(iss *issuer, u *unverified, tenant string) error {
	p, cfg := iss.profile, &iss.cfg
	if !slices.Contains(cfg.Algorithms, u.alg) {
		return fail(ReasonAlgorithm, "alg %q is not accepted for %s (accepted: %s)", truncate(u.alg, 20), cfg.Issuer, strings.Join(cfg.Algorithms, ", "))
	}
	if !p.acceptsType(u.typ) {
		return fail(ReasonType, "typ %q is not a %s access token's", truncate(u.typ, 40), p.name)
	}
	if p.check != nil {
		if err := p.check(iss, u, tenant); err != nil {
			return err
		}
	}
	if !cfg.AcceptIDTokens && p.idToken(iss, u.claims) {
		return fail(ReasonType, "an ID token where an access token is expected (set accept_id_tokens to accept ID tokens)")
	}
	aud, err := p.audienceOf(u.claims)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(cfg.Audiences, a) }) {
		if len(aud) == 0 {
			return fail(ReasonAudience, "the token has no audience")
		}
		return fail(ReasonAudience, "aud %q is not an accepted audience", truncate(strings.Join(aud, ","), 200))
	}
	if len(cfg.Clients) > 0 {
		client := firstString(u.claims, iss.names["client_id"])
		if !slices.Contains(cfg.Clients, client) {
			return fail(ReasonClient, "client %q is not one of the issuer's clients", truncate(client, 100))
		}
	}
	return v.checkTimes(cfg, u.claims)
}

// checkTimes checks exp (required, in the future), nbf and iat (not beyond the
// leeway), and the lifetime.
func (v *Verifier) checkTimes(cfg *IssuerConfig, claims map[string]any) error {
	now := v.opts.Now()
	leeway, maxLife := cfg.leeway(), cfg.maxLifetime()
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return fail(ReasonExpired, "the token has no exp")
	case !now.Before(exp):
		return fail(ReasonExpired, "the token expired at %s", exp.UTC().Format(time.RFC3339))
	case exp.Sub(now) > maxLife+leeway:
		return fail(ReasonLifetime, "the token is valid until %s, more than %s from now", exp.UTC().Format(time.RFC3339), maxLife)
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return err
	}
	if ok && nbf.After(now.Add(leeway)) {
		return fail(ReasonNotYetValid, "the token is not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil {
		return err
	}
	if ok {
		if iat.After(now.Add(leeway)) {
			return fail(ReasonNotYetValid, "the token was issued in the future, at %s", iat.UTC().Format(time.RFC3339))
		}
		if exp.Sub(iat) > maxLife {
			return fail(ReasonLifetime, "the token lives %s, more than the %s allowed", exp.Sub(iat), maxLife)
		}
	}
	return nil
}

// numericDate reads a NumericDate claim (seconds since the epoch).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok || v == nil {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false, fail(ReasonClaims, "%s is not a number", name)
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, false, fail(ReasonClaims, "%s is not a valid time", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// token builds the normalised token from claims already verified.
func (iss *issuer) token(u *unverified, claimedIss string) *Token {
	aud, _ := audienceClaim(u.claims) // checked in precheck
	t := &Token{Issuer: claimedIss, Profile: iss.profile.name, Audience: aud, Claims: u.claims}
	if exp, ok, _ := numericDate(u.claims, "exp"); ok {
		t.ExpiresAt = exp.Unix()
	}
	if iat, ok, _ := numericDate(u.claims, "iat"); ok {
		t.IssuedAt = iat.Unix()
	}
	t.normalise(iss.names, iss.split)
	if iss.profile.finish != nil {
		iss.profile.finish(t, u.claims)
	}
	return t
}

// verifierFor returns the go-oidc verifier that checks iss exactly, and the
// key set it verifies with, discovering the issuer first if needed.
func (v *Verifier) verifierFor(ctx context.Context, iss *issuer, claimedIss string) (*oidc.IDTokenVerifier, *keySet, error) {
	keys, err := v.keysOf(ctx, iss)
	if err != nil {
		return nil, nil, err
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if ov, ok := iss.verifiers[claimedIss]; ok {
		return ov, keys, nil
	}
	ov := oidc.NewVerifier(claimedIss, keys, &oidc.Config{
		// Audiences are checked against the issuer's list, not one client id.
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: iss.cfg.Algorithms,
		Now:                  v.opts.Now,
	})
	iss.verifiers[claimedIss] = ov
	return ov, keys, nil
}

// keysOf returns the issuer's key set: jwks_uri, the profile's known key set, or
// discovery's. Discovery runs once, detached from the request that starts it so
// that a request giving up does not waste it; every caller waits for it no
// longer than its own deadline. A failed discovery is retried no sooner than the
// key cooldown.
func (v *Verifier) keysOf(ctx context.Context, iss *issuer) (*keySet, error) {
	iss.mu.Lock()
	if iss.keys != nil {
		defer iss.mu.Unlock()
		return iss.keys, nil
	}
	if jwksURI := iss.fixedJWKSURI(); jwksURI != "" {
		defer iss.mu.Unlock()
		iss.keys = v.keySet(jwksURI)
		return iss.keys, nil
	}
	if iss.discovering == nil {
		now := v.opts.Now()
		if !iss.triedAt.IsZero() && now.Sub(iss.triedAt) < v.opts.KeyCooldown {
			defer iss.mu.Unlock()
			return nil, fail(ReasonUnavailable, "discovery of %s failed less than %s ago: %v", iss.cfg.Issuer, v.opts.KeyCooldown, iss.discoveryErr)
		}
		iss.triedAt = now
		done := make(chan struct{})
		iss.discovering = done
		go func() {
			uri, err := v.discover(iss.cfg.Issuer)
			iss.mu.Lock()
			defer iss.mu.Unlock()
			if err == nil {
				iss.keys = v.keySet(uri)
			} else {
				iss.discoveryErr = err
				v.opts.Logger.Warn("discovery failed", "issuer", iss.cfg.Issuer, "error", err.Error())
			}
			iss.discovering = nil
			close(done)
		}()
	}
	done := iss.discovering
	iss.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fail(ReasonUnavailable, "waiting for the discovery of %s: %v", iss.cfg.Issuer, ctx.Err())
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if iss.keys == nil {
		return nil, fail(ReasonUnavailable, "discovery of %s: %v", iss.cfg.Issuer, iss.discoveryErr)
	}
	return iss.keys, nil
}

// fixedJWKSURI is the key set the issuer uses without discovery: its jwks_uri,
// or its profile's; "" when discovery names it.
func (iss *issuer) fixedJWKSURI() string {
	if iss.cfg.JWKSURI == "" && iss.profile.jwksURI != nil {
		return iss.profile.jwksURI(&iss.cfg)
	}
	return iss.cfg.JWKSURI
}

// discover reads the issuer's discovery document with go-oidc, which checks that
// it names the same issuer, and returns its jwks_uri.
func (v *Verifier) discover(issuerURL string) (string, error) {
	// The client's timeout bounds the fetch.
	provider, err := oidc.NewProvider(oidc.ClientContext(context.Background(), v.opts.HTTPClient), issuerURL)
	if err != nil {
		return "", err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return "", errors.New("no jwks_uri in the discovery document")
	}
	if err := checkURL(meta.JWKSURI); err != nil {
		return "", fmt.Errorf("jwks_uri %v", err)
	}
	return meta.JWKSURI, nil
}

// keySet returns the shared key set of url.
func (v *Verifier) keySet(url string) *keySet {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ks, ok := v.keySets[url]; ok {
		return ks
	}
	ks := &keySet{
		url:      url,
		client:   v.opts.HTTPClient,
		cooldown: v.opts.KeyCooldown,
		maxAge:   v.opts.KeyMaxAge,
		now:      v.opts.Now,
		log:      v.opts.Logger,
	}
	v.keySets[url] = ks
	return ks
}

func firstString(claims map[string]any, names ClaimNames) string {
	for _, n := range names {
		if s, ok := scalarString(claims[n]); ok && s != "" {
			return s
		}
	}
	return ""
}

// truncate cuts s to n bytes for a log message; values from tokens are the
// attacker's and may be long.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
