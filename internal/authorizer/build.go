package authorizer

import (
	"context"
	"log/slog"
	"time"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/delivery"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

// Build assembles the authorizer from the configuration: the token verifier, the
// compiled policy and the gateway adapter. It compiles the policy once, here; the
// identity providers are contacted by Warm or on first use.
func Build(ctx context.Context, cfg config.Config, log *slog.Logger) (*Authorizer, error) {
	return BuildWithVerifier(ctx, cfg, log, nil)
}

// BuildWithVerifier is Build with another verifier than the configured issuers'
// when v is not nil: `authz check --claims` uses it for unverified claims.
func BuildWithVerifier(ctx context.Context, cfg config.Config, log *slog.Logger, v Verifier) (*Authorizer, error) {
	if v == nil {
		iv, err := identity.New(cfg.Issuers, identity.Options{Logger: log, KeyCooldown: cfg.JWKSCooldown, HTTPTimeout: cfg.IdPTimeout,
			Snapshot: cfg.JWKSSnapshot})
		if err != nil {
			return nil, &config.Error{Variable: "AUTHZ_ISSUERS", Err: err}
		}
		v = iv
	}
	decider, err := loadPolicy(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return New(Options{
		Verifier:            v,
		Decider:             decider,
		Sources:             cfg.TokenSources,
		Responder:           gateway.Responder{SimpleResponses: cfg.SimpleResponses},
		AllowAmbiguousPaths: cfg.AllowAmbiguousPaths,
		Log:                 log,
		DecisionLog:         cfg.DecisionLog,
	}), nil
}

// revisioned is a Decider that names the policy it decides with.
type revisioned interface {
	Decider
	Revision() string
}

// loadPolicy gives the policy the configuration names: a bundle in the
// function package (or the embedded one), read and compiled once, or a remote
// bundle or an OPA configuration, kept in force by OPA's plugin manager.
func loadPolicy(ctx context.Context, cfg config.Config, log *slog.Logger) (revisioned, error) {
	if len(cfg.BundleDirs) == 0 && (cfg.OPAConfig != "" || delivery.Remote(cfg.Bundle)) {
		return delivery.Start(ctx, delivery.Options{OPAConfig: cfg.OPAConfig, Bundle: cfg.Bundle, PublicKey: cfg.BundlePublicKey,
			PollInterval: cfg.BundlePollInterval, Query: cfg.Query, Mentions: cfg.PolicyMentions}, log)
	}
	return policy.Load(ctx, policy.Options{Bundle: cfg.Bundle, PublicKey: cfg.BundlePublicKey, Query: cfg.Query, Dirs: cfg.BundleDirs,
		Mentions: cfg.PolicyMentions})
}

// Warm fetches what the verifier needs from the identity providers ahead of the
// first request. A failure is not fatal: it is retried on use.
func (a *Authorizer) Warm(ctx context.Context) error {
	if w, ok := a.opts.Verifier.(interface{ Warm(context.Context) error }); ok {
		return w.Warm(ctx)
	}
	return nil
}

// DecideInput evaluates the policy on an input document directly, for tools
// that explore how a decision depends on the input.
func (a *Authorizer) DecideInput(ctx context.Context, input map[string]any) (*decision.Decision, error) {
	return a.opts.Decider.Decide(ctx, input)
}

// DecideInputAt is DecideInput with the policy's clock (time.now_ns) at the
// time given, for tools that ask what a cached decision would be later. A
// Decider that cannot move its clock decides on the real one.
func (a *Authorizer) DecideInputAt(ctx context.Context, input map[string]any, at time.Time) (*decision.Decision, error) {
	if d, ok := a.opts.Decider.(interface {
		DecideAt(context.Context, map[string]any, time.Time) (*decision.Decision, error)
	}); ok {
		return d.DecideAt(ctx, input, at)
	}
	return a.opts.Decider.Decide(ctx, input)
}

// PolicyMentions returns what the policy's text names of the request (see
// policy.Mentions), or nothing for a Decider that cannot tell.
func (a *Authorizer) PolicyMentions() policy.Mentions {
	if m, ok := a.opts.Decider.(interface{ Mentions() policy.Mentions }); ok {
		return m.Mentions()
	}
	return policy.Mentions{}
}

// Revision names the policy in use: the Decider's own when it can change (a
// policy kept in force from a bundle service), else Options.Revision.
func (a *Authorizer) Revision() string {
	if r, ok := a.opts.Decider.(interface{ Revision() string }); ok {
		return r.Revision()
	}
	return a.opts.Revision
}
