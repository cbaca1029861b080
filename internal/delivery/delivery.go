// Package delivery keeps the policy in force. It runs OPA's plugin manager,
// from a standard OPA configuration (AUTHZ_OPA_CONFIG) or one translated from
// AUTHZ_BUNDLE, with OPA's decision-log plugin always and, for a bundle
// service or S3, OPA's bundle plugin. A bundle in the function package (or
// the embedded one) is read and compiled once, and given to the manager as
// it is, so that its decision-log mask and drop rules apply. For a remote
// bundle it checks for a new bundle at invocation time, because Lambda
// freezes the process between invocations and OPA's own timer with it (the
// request that finds a check due waits for it, briefly, and the others do
// not); and, each time OPA activates a bundle, compiles it into a new
// policy.Engine and swaps that in atomically, so that a request is always
// decided by one whole policy.
//
// It never lets a request through without a policy: before the first
// activation every decision fails with policy_not_ready, and a bundle that
// OPA refuses (download, signature, compile) or the authorizer refuses (the
// input schema, a missing decision) leaves the last good engine in force.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/plugins"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/invocation"
	"github.com/apigw-authz/authz/internal/metrics"
	"github.com/apigw-authz/authz/internal/policy"
)

// Timing of the checks for a new bundle.
const (
	// StartTimeout bounds the first download at a cold start, within
	// Lambda's ten-second init phase.
	StartTimeout = 5 * time.Second
	// checkTimeout bounds each later check.
	checkTimeout = 20 * time.Second
	// checkBudget is the most a request waits for a check it finds due.
	// Lambda freezes the process as soon as a request is answered, so a
	// check left to run after it would stop mid-way and, frozen longer than
	// checkTimeout, fail at the next thaw: the request that starts a check
	// waits for it, within its own deadline.
	checkBudget = 2 * time.Second
	// retryNotReady is the least time between two checks while no bundle is
	// active: requests are being denied, so the next one should not wait a
	// whole poll interval.
	retryNotReady = time.Second
)

// Policy is the policy in force: the engine compiled from the last bundle
// OPA activated and the authorizer accepted. It is safe for concurrent use.
type Policy struct {
	manager  *plugins.Manager
	bundles  *bundleplugin.Plugin // nil for a bundle in the function package
	names    []string             // the configured bundles, all of which must be active
	compile  policy.Options       // the queries and Mentions
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	current   atomic.Pointer[inForce]
	lastCheck atomic.Int64     // when the last check started, in Unix nanoseconds
	check     *invocation.Task // the checks at invocation time
}

// inForce is an engine and the revisions of the bundles it was compiled
// from, by name.
type inForce struct {
	engine  *policy.Engine
	bundles map[string]string
}

// localName is the name a bundle in the function package goes by in OPA's
// store and the decision log.
const localName = "authz"

// Start runs OPA's plugin manager. A bundle in the function package is read
// and compiled first: a bundle that does not load is a configuration error.
// For a remote bundle it waits, at most StartTimeout, for the first: one that
// cannot be had yet is not an error, and decisions fail with policy_not_ready
// until one is activated. Errors are configuration errors, naming the
// variable.
func Start(ctx context.Context, opts Options, log *slog.Logger) (*Policy, error) {
	if err := policy.CheckQuery(opts.Query); err != nil {
		return nil, err
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	compile := policy.Options{Query: opts.Query, Shadow: opts.Shadow, Mentions: opts.Mentions}
	opa := newOPALogger(log)
	options := []func(*plugins.Manager){
		plugins.Logger(opa),
		plugins.ConsoleLogger(opa),
		plugins.WithParserOptions(ast.ParserOptions{ProcessAnnotation: true}),
		plugins.WithEnableVersionCheck(false),
	}
	var local *inForce
	if !cfg.remote {
		b, err := policy.ReadBundle(ctx, policy.Options{Bundle: opts.Bundle, PublicKey: opts.PublicKey, Dirs: opts.Dirs})
		if err != nil {
			return nil, err
		}
		e, err := policy.CompileWith(ctx, b, compile)
		if err != nil {
			return nil, err
		}
		warnShadow(log, e)
		local = &inForce{engine: e, bundles: map[string]string{localName: e.Revision()}}
		// OPA's store and compiler hold it too, for the decision log's mask
		// and drop rules.
		options = append(options, plugins.InitBundles(map[string]*bundle.Bundle{localName: b}))
	}
	manager, err := plugins.New(cfg.raw, "authz", inmem.New(), options...)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", cfg.variable(), err)
	}
	for name, p := range cfg.limits {
		manager.Register(name, p)
	}
	if opts.Decisions != nil {
		if err := opts.Decisions.Attach(manager); err != nil {
			return nil, fmt.Errorf("%s: %v", cfg.variable(), err)
		}
	}
	if local != nil {
		p := &Policy{manager: manager, compile: compile, log: log, now: time.Now, check: newCheck()}
		p.current.Store(local)
		if err := manager.Start(ctx); err != nil {
			return nil, fmt.Errorf("the policy bundle, as OPA reads it for the decision log: %v", err)
		}
		return p, nil
	}
	manual := plugins.TriggerManual
	bcfg, err := bundleplugin.NewConfigBuilder().WithBytes(manager.Config.Bundles).WithServices(manager.Services()).
		WithKeyConfigs(manager.PublicKeys()).WithTriggerMode(&manual).Parse()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", cfg.variable(), err)
	}
	names := make([]string, 0, len(bcfg.Bundles))
	for name := range bcfg.Bundles {
		names = append(names, name)
	}
	sort.Strings(names)
	p := &Policy{
		manager:  manager,
		bundles:  bundleplugin.New(bcfg, manager),
		names:    names,
		compile:  compile,
		interval: cfg.interval,
		log:      log,
		now:      time.Now,
		check:    newCheck(),
	}
	manager.Register(bundleplugin.Name, p.bundles)
	manager.RegisterCompilerTrigger(p.activated)
	if err := manager.Start(ctx); err != nil {
		return nil, fmt.Errorf("%s: %v", cfg.variable(), err)
	}
	start := p.now()
	p.lastCheck.Store(start.UnixNano())
	wctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := p.bundles.Trigger(wctx); err != nil || p.current.Load() == nil {
		metrics.BundleFailures.Add(1)
		log.Warn("no policy bundle activated at start-up: every request is denied (policy_not_ready) until one is",
			"source", cfg.describe, "error", errorText(err), "waited_ms", p.now().Sub(start).Milliseconds())
	}
	return p, nil
}

// warnShadow says, once per policy, that its shadow query does not compile.
func warnShadow(log *slog.Logger, e *policy.Engine) {
	if err := e.ShadowError(); err != nil {
		log.Warn("the shadow query does not compile on this policy: the live policy decides, and each decision's log says the shadow failed",
			"shadow_query", e.ShadowQuery(), "revision", e.Revision(), "error", err.Error())
	}
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// variable names the setting a configuration error is about.
func (c *config) variable() string {
	if strings.HasPrefix(c.describe, "AUTHZ_OPA_CONFIG") {
		return "AUTHZ_OPA_CONFIG"
	}
	return "AUTHZ_BUNDLE"
}

// engine is the policy in force, or a policy_not_ready error.
func (p *Policy) engine() (*policy.Engine, error) {
	if f := p.current.Load(); f != nil {
		return f.engine, nil
	}
	return nil, &policy.Error{Reason: policy.ReasonNotReady, Err: errors.New("no policy bundle has been activated yet")}
}

// Decide evaluates the policy in force. Before any bundle is active it fails
// with policy_not_ready, which the core turns into a Deny. It also checks for
// a new bundle when one is due.
func (p *Policy) Decide(ctx context.Context, input map[string]any) (*decision.Decision, error) {
	v, err := p.Evaluate(ctx, input)
	if err != nil {
		return nil, err
	}
	return policy.ParseDecision(v)
}

// Evaluate is Decide's raw value of the decision query, before validation.
func (p *Policy) Evaluate(ctx context.Context, input map[string]any) (any, error) {
	v, err := policy.InputValue(input)
	if err != nil {
		return nil, err
	}
	return p.EvaluateValue(ctx, v)
}

// EvaluateValue is Evaluate for an input already converted to a Rego value.
func (p *Policy) EvaluateValue(ctx context.Context, input ast.Value) (any, error) {
	p.checkIfDue(ctx)
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	return e.EvaluateValue(ctx, input)
}

// ShadowValue evaluates the shadow query of the policy in force (see
// policy.Engine.ShadowValue).
func (p *Policy) ShadowValue(ctx context.Context, input ast.Value) (any, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	return e.ShadowValue(ctx, input)
}

// ShadowQuery is AUTHZ_SHADOW_QUERY, or "".
func (p *Policy) ShadowQuery() string { return p.compile.Shadow }

// DecideAt is Decide with the policy's clock at the time given (see
// policy.Engine.DecideAt), for tools.
func (p *Policy) DecideAt(ctx context.Context, input map[string]any, at time.Time) (*decision.Decision, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	return e.DecideAt(ctx, input, at)
}

// Mentions is what the policy in force names of the request (see
// policy.Engine.Mentions), for tools.
func (p *Policy) Mentions() policy.Mentions {
	if e, err := p.engine(); err == nil {
		return e.Mentions()
	}
	return policy.Mentions{}
}

// Revision names the policy in force, or "none".
func (p *Policy) Revision() string {
	if e, err := p.engine(); err == nil {
		return e.Revision()
	}
	return "none"
}

// Bundles are the revisions of the bundles of the policy in force, by name;
// nil before the first.
func (p *Policy) Bundles() map[string]string {
	if f := p.current.Load(); f != nil {
		return f.bundles
	}
	return nil
}

// Engine is the policy in force, or nil before the first activation.
func (p *Policy) Engine() *policy.Engine {
	e, _ := p.engine()
	return e
}

// Stop stops OPA's plugins.
func (p *Policy) Stop(ctx context.Context) { p.manager.Stop(ctx) }

// checkIfDue starts a check for a new bundle when the poll interval has passed
// since the last one (or, while no bundle is active, a second), unless one is
// running, and waits for it up to checkBudget and never past ctx's deadline:
// a new revision then decides this very request. A check that takes longer
// goes on without the request, which is decided with the policy in force.
func (p *Policy) checkIfDue(ctx context.Context) {
	if p.bundles == nil {
		return // a bundle in the function package
	}
	every := p.interval
	if p.current.Load() == nil {
		every = retryNotReady
	}
	if every <= 0 {
		return
	}
	now := p.now().UnixNano()
	if now-p.lastCheck.Load() < int64(every) {
		return
	}
	p.check.Start(ctx, func(cctx context.Context) {
		p.lastCheck.Store(now)
		if err := p.bundles.Trigger(cctx); err != nil {
			metrics.BundleFailures.Add(1)
			p.log.Warn("checking for a new policy bundle failed; the policy in force stays", "revision", p.Revision(), "error", err.Error())
		}
	})
}

// newCheck is the task of the checks for a new bundle.
func newCheck() *invocation.Task {
	return &invocation.Task{Timeout: checkTimeout, Wait: checkBudget, Reserve: checkReserve}
}

// checkReserve is the time kept, before a request's deadline, to decide it
// after waiting for a check.
const checkReserve = 50 * time.Millisecond

// Check checks for a new bundle now and waits for the outcome, for tests and
// tools.
func (p *Policy) Check(ctx context.Context) error {
	if p.bundles == nil {
		return nil
	}
	p.lastCheck.Store(p.now().UnixNano())
	return p.bundles.Trigger(ctx)
}

// activated is the plugin manager's compiler trigger: OPA has activated a
// bundle in its store. The authorizer compiles what the store now holds with
// its own checks, and swaps the new engine in only if they pass.
func (p *Policy) activated(txn storage.Transaction) {
	ctx := context.Background()
	// Only all the configured bundles together are the policy: one without
	// the other (a policy without its deny list) must not decide. The plugin
	// manager also calls this when it starts, with no bundle at all.
	active, err := bundle.ReadBundleNamesFromStore(ctx, p.manager.Store, txn)
	if err != nil && !storage.IsNotFound(err) {
		p.log.Error("reading the activated bundles failed; the policy in force stays", "error", err.Error())
		return
	}
	if missing := slices.DeleteFunc(slices.Clone(p.names), func(n string) bool { return slices.Contains(active, n) }); len(missing) > 0 {
		if len(active) > 0 {
			p.log.Info("waiting for every bundle before the policy is used", "active", strings.Join(active, ","), "missing", strings.Join(missing, ","))
		}
		return
	}
	b, revisions, err := p.read(ctx, txn)
	if err == nil {
		var e *policy.Engine
		if e, err = policy.CompileWith(ctx, b, p.compile); err == nil {
			from := p.Revision()
			p.current.Store(&inForce{engine: e, bundles: revisions})
			metrics.BundleActivations.Add(1)
			p.log.Info("policy activated", "revision", e.Revision(), "previous_revision", from)
			warnShadow(p.log, e)
			return
		}
	}
	metrics.BundleFailures.Add(1)
	// OPA's own log says it activated the bundle: it holds it in its store,
	// and checks for a newer one as before.
	p.log.Error("OPA activated a policy bundle the authorizer cannot use; the last good policy stays in force until a new revision",
		"revision", b.Manifest.Revision, "in_force", p.Revision(), "error", err.Error())
}

// read gives back, as one bundle, the modules and data OPA's store holds in
// txn, and the revisions of its bundles by name.
func (p *Policy) read(ctx context.Context, txn storage.Transaction) (*bundle.Bundle, map[string]string, error) {
	store := p.manager.Store
	b := &bundle.Bundle{}
	ids, err := store.ListPolicies(ctx, txn)
	if err != nil {
		return b, nil, err
	}
	sort.Strings(ids)
	for _, id := range ids {
		raw, err := store.GetPolicy(ctx, txn, id)
		if err != nil {
			return b, nil, err
		}
		m, err := ast.ParseModuleWithOpts(id, string(raw), ast.ParserOptions{ProcessAnnotation: true})
		if err != nil {
			return b, nil, err
		}
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: id, Path: id, Raw: raw, Parsed: m})
	}
	data, err := store.Read(ctx, txn, storage.RootPath)
	if err != nil {
		return b, nil, err
	}
	// A copy: the engine must not share what OPA's store changes at the next
	// activation.
	if err := util.RoundTrip(&data); err != nil {
		return b, nil, err
	}
	b.Data, _ = data.(map[string]any)
	names, err := bundle.ReadBundleNamesFromStore(ctx, store, txn)
	if err != nil {
		return b, nil, err
	}
	sort.Strings(names)
	var revisions []string
	byName := make(map[string]string, len(names))
	for _, name := range names {
		rev, err := bundle.ReadBundleRevisionFromStore(ctx, store, txn, name)
		if err != nil || rev == "" {
			continue
		}
		byName[name] = rev
		if len(names) > 1 {
			rev = name + "@" + rev
		}
		revisions = append(revisions, rev)
	}
	b.Manifest.Init() // the whole tree: the engine holds everything the store does
	b.Manifest.Revision = strings.Join(revisions, ",")
	return b, byName, nil
}
