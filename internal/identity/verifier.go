// Package identity turns a bearer token into a verified, normalised principal:
// the contract's input.token. It chooses the issuer by the token's iss among the
// configured ones, verifies the signature with go-oidc against the issuer's key
// set, checks the claims, and maps the provider's claims to scopes, groups and
// roles by the issuer's profile.
//
// It never lets an unverified claim through: the claims it returns are decoded
// from the payload the signature covers, and any doubt is an error. It never logs
// or returns the token.
package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

var (
	errNotObject = errors.New("not a JSON object")
	errAudience  = errors.New("aud is neither a string nor an array of strings")
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
	// Leeway is the clock skew allowed on nbf and iat. Default 60s. exp has none.
	Leeway time.Duration
	// Logger receives fetch failures. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// HTTPClient replaces the bounded client built from the options above.
	HTTPClient *http.Client
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
	if o.Leeway <= 0 {
		o.Leeway = 60 * time.Second
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
}

// Verifier verifies tokens of the configured issuers. It is safe for concurrent
// use and meant to live as long as the process: discovery documents and keys are
// fetched once and shared.
type Verifier struct {
	opts     Options
	byIssuer map[string]*issuer

	mu      sync.Mutex
	keySets map[string]*keySet // by URL, shared by issuers with the same set
}

// issuer is one configured issuer and its lazily discovered go-oidc verifier.
type issuer struct {
	cfg     IssuerConfig
	profile *profile
	names   map[string]ClaimNames

	mu      sync.Mutex
	oidc    *oidc.IDTokenVerifier
	keys    *keySet
	triedAt time.Time
}

// New returns a verifier for the issuers. It makes no network call: discovery and
// keys are fetched by Warm or on first use.
func New(issuers []IssuerConfig, opts Options) (*Verifier, error) {
	opts.defaults()
	v := &Verifier{opts: opts, byIssuer: map[string]*issuer{}, keySets: map[string]*keySet{}}
	for i := range issuers {
		cfg := issuers[i]
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("identity: issuer %q: %v", cfg.Issuer, err)
		}
		p := profiles[cfg.Profile]
		v.byIssuer[cfg.Issuer] = &issuer{cfg: cfg, profile: p, names: p.claimNames(cfg.Claims)}
	}
	return v, nil
}

// Warm discovers every issuer and fetches its keys, so that the first requests do
// not wait for them. Failures are returned and retried on use.
func (v *Verifier) Warm(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 0, len(v.byIssuer))
	var mu sync.Mutex
	for _, iss := range v.byIssuer {
		wg.Go(func() {
			_, keys, err := v.discover(ctx, iss)
			if err == nil {
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

// Verify checks raw and returns its verified, normalised token. Every error is an
// *Error whose Reason says what failed.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	u, err := inspect(raw)
	if err != nil {
		return nil, err
	}
	iss, ok := v.byIssuer[u.iss]
	if !ok {
		// No fetch for an issuer nobody configured.
		return nil, fail(ReasonUnknownIssuer, "iss %q is not a configured issuer", truncate(u.iss, 100))
	}
	if !slices.Contains(iss.cfg.Algorithms, u.alg) {
		return nil, fail(ReasonAlgorithm, "alg %q is not accepted for %s (accepted: %v)", truncate(u.alg, 20), iss.cfg.Issuer, iss.cfg.Algorithms)
	}
	// Refuse a token meant for another API before spending a signature check on it.
	if err := checkAudience(iss, u.aud); err != nil {
		return nil, err
	}
	verifier, _, err := v.discover(ctx, iss)
	if err != nil {
		return nil, err
	}
	var keyErr error
	idt, err := verifier.Verify(context.WithValue(ctx, keyErrKey{}, &keyErr), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case keyErr != nil:
			return nil, keyErr
		case errors.As(err, &expired):
			return nil, fail(ReasonExpired, "the token expired at %s", expired.Expiry.UTC().Format(time.RFC3339))
		default:
			return nil, fail(ReasonMalformed, "%v", err)
		}
	}
	// The claims the policy sees are decoded from the verified payload.
	var payload json.RawMessage
	if err := idt.Claims(&payload); err != nil {
		return nil, fail(ReasonClaims, "%v", err)
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fail(ReasonClaims, "%v", err)
	}
	t := &Token{Issuer: iss.cfg.Issuer, Profile: iss.profile.name, Audience: idt.Audience, Claims: claims}
	if err := v.checkClaims(iss, t); err != nil {
		return nil, err
	}
	if iss.profile.check != nil {
		if err := iss.profile.check(iss, claims); err != nil {
			return nil, err
		}
	}
	t.normalise(iss.names, iss.profile.split)
	return t, nil
}

// checkClaims checks the verified claims: iss exact, aud accepted, exp present and
// in the future, nbf and iat not beyond the leeway.
func (v *Verifier) checkClaims(iss *issuer, t *Token) error {
	if s, _ := t.Claims["iss"].(string); s != iss.cfg.Issuer {
		return fail(ReasonIssuer, "iss %q is not %q", truncate(s, 100), iss.cfg.Issuer)
	}
	if err := checkAudience(iss, t.Audience); err != nil {
		return err
	}
	now := v.opts.Now()
	exp, ok, err := numericDate(t.Claims, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return fail(ReasonExpired, "the token has no exp")
	case !now.Before(exp):
		return fail(ReasonExpired, "the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	t.ExpiresAt = exp.Unix()
	nbf, ok, err := numericDate(t.Claims, "nbf")
	if err != nil {
		return err
	}
	if ok && nbf.After(now.Add(v.opts.Leeway)) {
		return fail(ReasonNotYetValid, "the token is not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	iat, ok, err := numericDate(t.Claims, "iat")
	if err != nil {
		return err
	}
	if ok {
		if iat.After(now.Add(v.opts.Leeway)) {
			return fail(ReasonNotYetValid, "the token was issued in the future, at %s", iat.UTC().Format(time.RFC3339))
		}
		t.IssuedAt = iat.Unix()
	}
	return nil
}

func checkAudience(iss *issuer, aud []string) error {
	for _, a := range aud {
		if slices.Contains(iss.cfg.Audiences, a) {
			return nil
		}
	}
	if len(aud) == 0 {
		return fail(ReasonAudience, "the token has no aud")
	}
	return fail(ReasonAudience, "aud %q is not an accepted audience", truncate(fmt.Sprint(aud), 200))
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

// discover returns the issuer's go-oidc verifier, discovering the issuer first if
// needed. A failed discovery is retried no sooner than the key cooldown.
func (v *Verifier) discover(ctx context.Context, iss *issuer) (*oidc.IDTokenVerifier, *keySet, error) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if iss.oidc != nil {
		return iss.oidc, iss.keys, nil
	}
	jwksURI := iss.cfg.JWKSURI
	if jwksURI == "" {
		now := v.opts.Now()
		if !iss.triedAt.IsZero() && now.Sub(iss.triedAt) < v.opts.KeyCooldown {
			return nil, nil, fail(ReasonUnavailable, "discovery of %s failed less than %s ago", iss.cfg.Issuer, v.opts.KeyCooldown)
		}
		iss.triedAt = now
		// The discovery outlives the request that triggered it: others wait for it.
		dctx := oidc.ClientContext(context.WithoutCancel(ctx), v.opts.HTTPClient)
		provider, err := oidc.NewProvider(dctx, iss.cfg.Issuer)
		if err != nil {
			v.opts.Logger.Warn("discovery failed", "issuer", iss.cfg.Issuer, "error", err.Error())
			return nil, nil, fail(ReasonUnavailable, "discovery of %s: %v", iss.cfg.Issuer, err)
		}
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := provider.Claims(&meta); err != nil || meta.JWKSURI == "" {
			return nil, nil, fail(ReasonUnavailable, "discovery of %s gave no jwks_uri", iss.cfg.Issuer)
		}
		if err := checkURL(meta.JWKSURI); err != nil {
			return nil, nil, fail(ReasonUnavailable, "discovery of %s: jwks_uri %v", iss.cfg.Issuer, err)
		}
		jwksURI = meta.JWKSURI
	}
	iss.keys = v.keySet(jwksURI)
	iss.oidc = oidc.NewVerifier(iss.cfg.Issuer, iss.keys, &oidc.Config{
		// Audiences are checked against the issuer's list, not one client id.
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: iss.cfg.Algorithms,
		Now:                  v.opts.Now,
	})
	return iss.oidc, iss.keys, nil
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

// truncate cuts s to n bytes for a log message; values from tokens are the
// attacker's and may be long.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
