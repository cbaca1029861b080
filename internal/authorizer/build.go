package authorizer

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/decisionlog"
	"github.com/apigw-authz/authz/internal/delivery"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

// The policy in force is the authorizer's Decider and Shadower.
var _ Shadower = (*delivery.Policy)(nil)

// Build assembles the authorizer from the configuration: the token verifier, the
// compiled policy and the gateway adapter. It compiles the policy once, here; the
// identity providers are contacted by Warm or on first use.
func Build(ctx context.Context, cfg config.Config, log *slog.Logger) (*Authorizer, error) {
	return BuildWithVerifier(ctx, cfg, log, nil)
}

// BuildWithVerifier is Build with another verifier than the configured issuers'
// when v is not nil: `authz check --claims` uses it for unverified claims.
func BuildWithVerifier(ctx context.Context, cfg config.Config, log *slog.Logger, v Verifier) (*Authorizer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if v == nil {
		cache := cfg.TokenCache
		if cache == 0 {
			cache = -1 // identity's "off"
		}
		iv, err := identity.New(cfg.Issuers, identity.Options{Logger: log, KeyCooldown: cfg.JWKSCooldown, HTTPTimeout: cfg.IdPTimeout,
			Snapshot: cfg.JWKSSnapshot, TokenCacheSize: cache})
		if err != nil {
			return nil, &config.Error{Variable: "AUTHZ_ISSUERS", Err: err}
		}
		v = iv
	}
	decisions := decisionlog.New(log, decisionlog.Options{Console: cfg.DecisionLog, Metrics: metricsOptions(cfg)})
	// OPA's plugin manager keeps the policy in force, whatever its source,
	// and runs OPA's decision-log plugin.
	p, err := delivery.Start(ctx, delivery.Options{OPAConfig: cfg.OPAConfig, Bundle: cfg.Bundle, PublicKey: cfg.BundlePublicKey,
		PollInterval: cfg.BundlePollInterval, Query: cfg.Query, Shadow: cfg.ShadowQuery, Dirs: cfg.BundleDirs,
		Decisions: decisions, Mentions: cfg.PolicyMentions}, log)
	if err != nil {
		return nil, err
	}
	return New(Options{
		Verifier:            v,
		Decider:             p,
		Sources:             cfg.TokenSources,
		Responder:           gateway.Responder{SimpleResponses: cfg.SimpleResponses},
		AllowAmbiguousPaths: cfg.AllowAmbiguousPaths,
		Log:                 log,
		Decisions:           decisions,
		DecisionLog:         cfg.DecisionLog,
		Query:               cfg.Query,
	}), nil
}

// BrokenConfig is Broken for a configuration that failed: its denials are
// logged, and counted, as cfg says as far as it could be read.
func BrokenConfig(err error, cfg config.Config, log *slog.Logger) *Authorizer {
	decisions := decisionlog.New(log, decisionlog.Options{Console: cfg.DecisionLog, Metrics: metricsOptions(cfg)})
	return BrokenWith(err, gateway.Responder{SimpleResponses: cfg.SimpleResponses}, log, decisions)
}

// metricsOptions are AUTHZ_METRICS and AUTHZ_METRICS_NAMESPACE, with the
// function's name as a dimension when Lambda gives it.
func metricsOptions(cfg config.Config) decisionlog.MetricsOptions {
	if !cfg.Metrics {
		return decisionlog.MetricsOptions{}
	}
	return decisionlog.MetricsOptions{Namespace: cfg.MetricsNamespace, Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
}

// Close stops OPA's plugins and uploads the decision-log events waiting,
// within ctx: at shutdown.
func (a *Authorizer) Close(ctx context.Context) error {
	err := a.opts.Decisions.Flush(ctx)
	if s, ok := a.opts.Decider.(interface{ Stop(context.Context) }); ok {
		s.Stop(ctx)
	}
	return err
}

// UploadsDecisions reports whether decision-log events also go to a
// decision-log service, and so should be flushed at shutdown.
func (a *Authorizer) UploadsDecisions() bool { return a.opts.Decisions.Uploads() }

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
	value, err := policy.InputValue(input)
	if err != nil {
		return nil, err
	}
	v, err := a.opts.Decider.EvaluateValue(ctx, value)
	if err != nil {
		return nil, err
	}
	return policy.ParseDecision(v)
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
	return a.DecideInput(ctx, input)
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
