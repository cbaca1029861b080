package authorizer

import (
	"context"
	"log/slog"
	"time"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/decision"
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
		iv, err := identity.New(cfg.Issuers, identity.Options{Logger: log, KeyCooldown: cfg.JWKSCooldown, HTTPTimeout: cfg.IdPTimeout})
		if err != nil {
			return nil, &config.Error{Variable: "AUTHZ_ISSUERS", Err: err}
		}
		v = iv
	}
	engine, err := policy.Load(ctx, policy.Options{Bundle: cfg.Bundle, PublicKey: cfg.BundlePublicKey, Query: cfg.Query, Dirs: cfg.BundleDirs})
	if err != nil {
		return nil, err
	}
	return New(Options{
		Verifier:            v,
		Decider:             engine,
		Sources:             cfg.TokenSources,
		Responder:           gateway.Responder{SimpleResponses: cfg.SimpleResponses},
		AllowAmbiguousPaths: cfg.AllowAmbiguousPaths,
		Revision:            engine.Revision(),
		Log:                 log,
		DecisionLog:         cfg.DecisionLog,
	}), nil
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

// Revision names the policy in use.
func (a *Authorizer) Revision() string { return a.opts.Revision }
