// Package delivery keeps the policy in force when it comes from a bundle
// service or S3. It runs OPA's plugin manager with OPA's bundle plugin, from a
// standard OPA configuration (AUTHZ_OPA_CONFIG) or one translated from
// AUTHZ_BUNDLE; checks for a new bundle at invocation time, because Lambda
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
	bundles  *bundleplugin.Plugin
	names    []string // the configured bundles, all of which must be active
	query    string
	mentions bool // keep what the policy names of the request (local tools)
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	current   atomic.Pointer[policy.Engine]
	lastCheck atomic.Int64 // when the last check started, in Unix nanoseconds
	checking  atomic.Bool  // a check is running
}

// Start runs OPA's plugin manager and waits, at most StartTimeout, for the
// first bundle. A bundle that cannot be had yet is not an error: decisions
// fail with policy_not_ready until one is activated. Errors are configuration
// errors, naming the variable.
func Start(ctx context.Context, opts Options, log *slog.Logger) (*Policy, error) {
	if err := policy.CheckQuery(opts.Query); err != nil {
		return nil, err
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	opa := newOPALogger(log)
	manager, err := plugins.New(cfg.raw, "authz", inmem.New(),
		plugins.Logger(opa),
		plugins.ConsoleLogger(opa),
		plugins.WithParserOptions(ast.ParserOptions{ProcessAnnotation: true}),
		plugins.WithEnableVersionCheck(false),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", cfg.variable(), err)
	}
	for name, p := range cfg.limits {
		manager.Register(name, p)
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
		query:    opts.Query,
		mentions: opts.Mentions,
		interval: cfg.interval,
		log:      log,
		now:      time.Now,
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
		log.Warn("no policy bundle activated at start-up: every request is denied (policy_not_ready) until one is",
			"source", cfg.describe, "error", errorText(err), "waited_ms", p.now().Sub(start).Milliseconds())
	}
	return p, nil
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

// Decide evaluates the policy in force. Before any bundle is active it fails
// with policy_not_ready, which the core turns into a Deny. It also starts a
// check for a new bundle, in the background, when one is due.
func (p *Policy) Decide(ctx context.Context, input map[string]any) (*decision.Decision, error) {
	p.checkIfDue(ctx)
	e := p.current.Load()
	if e == nil {
		return nil, &policy.Error{Reason: policy.ReasonNotReady, Err: errors.New("no policy bundle has been activated yet")}
	}
	return e.Decide(ctx, input)
}

// DecideAt is Decide with the policy's clock at the time given (see
// policy.Engine.DecideAt), for tools.
func (p *Policy) DecideAt(ctx context.Context, input map[string]any, at time.Time) (*decision.Decision, error) {
	e := p.current.Load()
	if e == nil {
		return nil, &policy.Error{Reason: policy.ReasonNotReady, Err: errors.New("no policy bundle has been activated yet")}
	}
	return e.DecideAt(ctx, input, at)
}

// Mentions is what the policy in force names of the request (see
// policy.Engine.Mentions), for tools.
func (p *Policy) Mentions() policy.Mentions {
	if e := p.current.Load(); e != nil {
		return e.Mentions()
	}
	return policy.Mentions{}
}

// Revision names the policy in force, or "none".
func (p *Policy) Revision() string {
	if e := p.current.Load(); e != nil {
		return e.Revision()
	}
	return "none"
}

// Engine is the policy in force, or nil before the first activation.
func (p *Policy) Engine() *policy.Engine { return p.current.Load() }

// Stop stops OPA's plugins.
func (p *Policy) Stop(ctx context.Context) { p.manager.Stop(ctx) }

// checkIfDue starts a check for a new bundle when the poll interval has passed
// since the last one (or, while no bundle is active, a second), unless one is
// running, and waits for it up to checkBudget and never past ctx's deadline:
// a new revision then decides this very request. A check that takes longer
// goes on without the request, which is decided with the policy in force.
func (p *Policy) checkIfDue(ctx context.Context) {
	every := p.interval
	if p.current.Load() == nil {
		every = retryNotReady
	}
	if every <= 0 {
		return
	}
	now := p.now().UnixNano()
	if now-p.lastCheck.Load() < int64(every) || !p.checking.CompareAndSwap(false, true) {
		return
	}
	p.lastCheck.Store(now)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer p.checking.Store(false)
		cctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		if err := p.bundles.Trigger(cctx); err != nil {
			p.log.Warn("checking for a new policy bundle failed; the policy in force stays", "revision", p.Revision(), "error", err.Error())
		}
	}()
	wait := checkBudget
	if deadline, ok := ctx.Deadline(); ok {
		// Leave the request time to be decided after the check.
		wait = min(wait, time.Until(deadline)-checkReserve)
	}
	if wait <= 0 {
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-ctx.Done():
	}
}

// checkReserve is the time kept, before a request's deadline, to decide it
// after waiting for a check.
const checkReserve = 50 * time.Millisecond

// Check checks for a new bundle now and waits for the outcome, for tests and
// tools.
func (p *Policy) Check(ctx context.Context) error {
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
	b, err := p.read(ctx, txn)
	if err == nil {
		var e *policy.Engine
		if e, err = policy.Compile(ctx, b, p.query, p.mentions); err == nil {
			old := p.current.Swap(e)
			from := "none"
			if old != nil {
				from = old.Revision()
			}
			p.log.Info("policy activated", "revision", e.Revision(), "previous_revision", from)
			return
		}
	}
	// OPA's own log says it activated the bundle: it holds it in its store,
	// and checks for a newer one as before.
	p.log.Error("OPA activated a policy bundle the authorizer cannot use; the last good policy stays in force until a new revision",
		"revision", b.Manifest.Revision, "in_force", p.Revision(), "error", err.Error())
}

// read gives back, as one bundle, the modules and data OPA's store holds in
// txn, and the revisions of its bundles.
func (p *Policy) read(ctx context.Context, txn storage.Transaction) (*bundle.Bundle, error) {
	store := p.manager.Store
	b := &bundle.Bundle{}
	ids, err := store.ListPolicies(ctx, txn)
	if err != nil {
		return b, err
	}
	sort.Strings(ids)
	for _, id := range ids {
		raw, err := store.GetPolicy(ctx, txn, id)
		if err != nil {
			return b, err
		}
		m, err := ast.ParseModuleWithOpts(id, string(raw), ast.ParserOptions{ProcessAnnotation: true})
		if err != nil {
			return b, err
		}
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: id, Path: id, Raw: raw, Parsed: m})
	}
	data, err := store.Read(ctx, txn, storage.RootPath)
	if err != nil {
		return b, err
	}
	// A copy: the engine must not share what OPA's store changes at the next
	// activation.
	if err := util.RoundTrip(&data); err != nil {
		return b, err
	}
	b.Data, _ = data.(map[string]any)
	names, err := bundle.ReadBundleNamesFromStore(ctx, store, txn)
	if err != nil {
		return b, err
	}
	sort.Strings(names)
	var revisions []string
	for _, name := range names {
		rev, err := bundle.ReadBundleRevisionFromStore(ctx, store, txn, name)
		if err != nil || rev == "" {
			continue
		}
		if len(names) > 1 {
			rev = name + "@" + rev
		}
		revisions = append(revisions, rev)
	}
	b.Manifest.Init() // the whole tree: the engine holds everything the store does
	b.Manifest.Revision = strings.Join(revisions, ",")
	return b, nil
}
