// Package authorizer is the core the Lambda and the CLI share. It reads the
// event, takes and verifies the token, asks the policy, and answers with the
// contract's outcome (section 5), writing one decision-log line each time.
//
// It must never answer Allow unless a verified or absent token and a valid
// decision say so: an error, a panic, a timeout, a malformed event or a broken
// configuration ends in Deny, and a bad token in Unauthorized.
package authorizer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/decisionlog"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

// ErrUnauthorized is the error whose message API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized") //nolint:staticcheck // API Gateway matches this exact text

// Verifier verifies a bearer token.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*identity.Token, error)
}

// Decider evaluates the policy for an input document, as a Rego value
// (policy.InputValue): the raw value of the decision query, which the
// authorizer validates and logs as it is. The authorizer converts the input
// once, for the policy, the shadow query and OPA's mask rules in the decision
// log.
type Decider interface {
	EvaluateValue(ctx context.Context, input ast.Value) (any, error)
}

// Shadower is a Decider with a shadow query (AUTHZ_SHADOW_QUERY): a second
// decision evaluated on the same input, logged and never enforced.
type Shadower interface {
	ShadowQuery() string
	ShadowValue(ctx context.Context, input ast.Value) (any, error)
}

// Options assemble an authorizer.
type Options struct {
	Verifier  Verifier
	Decider   Decider
	Sources   identity.Sources
	Responder gateway.Responder
	// AllowAmbiguousPaths lets paths with dot segments, encoded separators,
	// backslashes or control characters reach the policy
	// (AUTHZ_ALLOW_AMBIGUOUS_PATHS). By default they are denied: see
	// gateway.Request.AmbiguousPath.
	AllowAmbiguousPaths bool
	// Revision names the policy in the decision log, for a Decider that does
	// not name it itself.
	Revision string
	// Log receives the authorizer's own lines. Make it with internal/logging,
	// whose handlers clip and redact each value.
	Log *slog.Logger
	// Decisions writes the decision log. Default: a decisionlog.Logger on Log,
	// without OPA's masking, every decision written when DecisionLog is true
	// and only error outcomes otherwise, and no metrics.
	Decisions   *decisionlog.Logger
	DecisionLog bool
	// Query is the decision query, for the decision log's path. Default
	// policy.DefaultQuery.
	Query string
	// Margin is kept free before the invocation's deadline to answer Deny in
	// time. Default 100ms.
	Margin time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Authorizer decides requests. It is safe for concurrent use.
type Authorizer struct {
	opts Options
	// path is the decision query as the decision log names it.
	path string
	// broken, when set, is the configuration error every request is denied for.
	broken error
}

// New returns an authorizer.
func New(opts Options) *Authorizer {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Margin <= 0 {
		opts.Margin = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sources == nil {
		opts.Sources = identity.DefaultSources
	}
	if opts.Decisions == nil {
		opts.Decisions = decisionlog.New(opts.Log, decisionlog.Options{Console: opts.DecisionLog})
	}
	if opts.Query == "" {
		opts.Query = policy.DefaultQuery
	}
	// The responses deny ambiguous paths exactly when the requests are checked
	// for them.
	opts.Responder.AllowAmbiguousPaths = opts.AllowAmbiguousPaths
	return &Authorizer{opts: opts, path: policy.LogPath(opts.Query)}
}

// Broken returns an authorizer that denies every request because of err, a
// configuration error. A Lambda that exits at init makes API Gateway answer 500;
// this one answers 403 and logs why on every request.
func Broken(err error, responder gateway.Responder, log *slog.Logger) *Authorizer {
	return BrokenWith(err, responder, log, nil)
}

// BrokenWith is Broken writing its decision log with decisions, so that the
// denials of a broken configuration are counted in the metrics too.
func BrokenWith(err error, responder gateway.Responder, log *slog.Logger, decisions *decisionlog.Logger) *Authorizer {
	a := New(Options{Responder: responder, Log: log, Revision: "none", Decisions: decisions})
	a.broken = err
	return a
}

// Handle is the Lambda handler: the response for API Gateway, or ErrUnauthorized.
func (a *Authorizer) Handle(ctx context.Context, event json.RawMessage) (any, error) {
	res := a.Authorize(ctx, event)
	if res.Outcome == OutcomeUnauthorized {
		return nil, ErrUnauthorized
	}
	return res.Response, nil
}

// Invoke is the Lambda handler as aws-lambda-go's raw lambda.Handler: the
// event's bytes in, the response's JSON out, or ErrUnauthorized. The
// reflective wrapper of Handle costs a decision some 20 µs for nothing: the
// event is decoded once, by gateway.Decode, either way.
func (a *Authorizer) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	res := a.Authorize(ctx, event)
	if res.Outcome == OutcomeUnauthorized {
		return nil, ErrUnauthorized
	}
	b, err := json.Marshal(res.Response)
	if err != nil {
		// Nothing a client sends makes a response that does not encode (its
		// context comes from the policy); should it happen, this request is
		// denied, and if even that cannot be said, API Gateway gets an error
		// (500): never an Allow.
		a.opts.Log.Error("encoding the response failed; denied", "decision_id", res.DecisionID, "error", err.Error())
		if b, err = json.Marshal(a.opts.Responder.Fail(res.Event, res.PrincipalID)); err != nil {
			return nil, fmt.Errorf("encoding the response: %w", err)
		}
	}
	return b, nil
}

// Authorize decides one event, evaluates the shadow query on the same input
// if there is one, and logs the decision.
func (a *Authorizer) Authorize(ctx context.Context, event []byte) (res *Result) {
	start := a.opts.Now()
	res = &Result{DecisionID: newID(), Time: start}
	defer func() {
		if r := recover(); r != nil {
			res.Stack = panicStack(debug.Stack())
			a.fail(res, ReasonPanic, fmt.Errorf("panic: %v", r))
		}
		if res.Latency == 0 {
			res.Latency = a.opts.Now().Sub(start)
		}
		a.log(ctx, res)
	}()
	dctx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline.Add(-a.opts.Margin))
		defer cancel()
	}
	a.decide(dctx, event, res)
	res.Latency = a.opts.Now().Sub(start)
	// The response is settled: the shadow cannot change it.
	a.shadow(dctx, res)
	return res
}

// panicStack is a recovered panic's stack from the frame that called panic
// (for a runtime error, the runtime's frames that raised it come first):
// debug.Stack begins with the frames of the recovery itself, and the decision
// line keeps only a stack's first kilobyte.
func panicStack(stack []byte) string {
	s := string(stack)
	i := strings.Index(s, "\npanic(")
	if i < 0 {
		return s
	}
	// The panic( line and the file line under it.
	rest := s[i+1:]
	for range 2 {
		if j := strings.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[j+1:]
		}
	}
	return rest
}

// decide runs the steps in order: event → token → input → decision → response.
func (a *Authorizer) decide(ctx context.Context, event []byte, res *Result) {
	ev, err := gateway.Decode(event)
	res.Event = ev
	if err != nil {
		a.fail(res, ReasonEvent, err)
		return
	}
	if a.broken != nil {
		a.fail(res, ReasonConfig, a.broken)
		return
	}

	raw, err := a.takeToken(ev)
	if err != nil {
		res.unauthorized(identity.ReasonOf(err), err)
		return
	}
	res.secret = raw
	if raw != "" {
		began := a.opts.Now()
		tok, err := a.opts.Verifier.Verify(ctx, raw)
		res.Verify = a.opts.Now().Sub(began)
		switch {
		case err == nil:
			res.Token = tok
		case identity.Unavailable(err) || ctx.Err() != nil:
			// Not the token's fault: deny rather than send the client to log in again.
			a.fail(res, timeoutOr(ctx, identity.ReasonOf(err)), err)
			return
		default:
			res.unauthorized(identity.ReasonOf(err), err)
			return
		}
		// Only a verified token is looked for elsewhere: it is long and random,
		// so a copy of it is a copy, not a coincidence.
		if !ev.Request.Redact(raw) {
			a.refuse(res, ReasonTokenInPath, errors.New("the token is also in the path, where it cannot be removed before the policy sees it"))
			return
		}
	}

	if !a.opts.AllowAmbiguousPaths {
		if why := ev.Request.AmbiguousPath(); why != "" {
			a.refuse(res, ReasonAmbiguousPath, errors.New(why))
			return
		}
	}

	res.Input = map[string]any{"request": ev.Request.Document()}
	if res.Token != nil {
		res.Input["token"] = res.Token.Document()
	}
	began := a.opts.Now()
	value, err := a.evaluate(ctx, res)
	res.Eval = a.opts.Now().Sub(began)
	if err == nil {
		res.Value = &value
	}
	var d *decision.Decision
	if err == nil {
		d, err = policy.ParseDecision(value)
	}
	if err != nil {
		a.fail(res, timeoutOr(ctx, policyReason(err)), err)
		return
	}
	res.Decision = d
	res.PrincipalID = principalID(d, res.Token)

	if !d.Allow && res.Token == nil {
		res.unauthorized(ReasonNoToken, nil)
		return
	}
	respond, outcome, reason := a.opts.Responder.Allow, OutcomeAllow, ReasonAllowed
	if !d.Allow {
		respond, outcome, reason = a.opts.Responder.Deny, OutcomeDeny, ReasonDenied
	}
	resp, err := respond(ev, d, res.PrincipalID)
	if err != nil {
		a.fail(res, ReasonResponse, err)
		return
	}
	res.Outcome, res.Reason, res.Response = outcome, reason, resp
}

// evaluate asks the policy, with the input as a Rego value (kept in res for
// the shadow and the log).
func (a *Authorizer) evaluate(ctx context.Context, res *Result) (any, error) {
	v, err := policy.InputValue(res.Input)
	if err != nil {
		return nil, err
	}
	res.InputValue = v
	return a.opts.Decider.EvaluateValue(ctx, v)
}

// takeToken finds the token of the event and removes its source from the
// request the policy will see.
func (a *Authorizer) takeToken(ev *gateway.Event) (string, error) {
	if ev.Kind == gateway.KindToken {
		if ev.AuthorizationToken == "" {
			return "", nil
		}
		return identity.FromAuthorization(ev.AuthorizationToken)
	}
	r := &ev.Request
	return a.opts.Sources.Take(r.Headers, r.Cookies, r.Query)
}

// refuse makes res a Deny for this request only, by a rule of the authorizer
// rather than of the policy, which is not asked.
func (a *Authorizer) refuse(res *Result, reason string, err error) {
	res.PrincipalID = principalID(nil, res.Token)
	res.Outcome, res.Reason, res.Err = OutcomeDeny, reason, err
	res.Response = a.opts.Responder.Fail(res.Event, res.PrincipalID)
}

// fail makes res a Deny for this request only, whatever happened before.
func (a *Authorizer) fail(res *Result, reason string, err error) {
	if res.PrincipalID == "" {
		res.PrincipalID = principalID(nil, res.Token)
	}
	res.Outcome, res.Reason, res.Err = OutcomeError, reason, err
	res.Response = a.opts.Responder.Fail(res.Event, res.PrincipalID)
}

func principalID(d *decision.Decision, tok *identity.Token) string {
	switch {
	case d != nil && d.PrincipalID != "":
		return d.PrincipalID
	case tok != nil && tok.Subject != "":
		return tok.Subject
	case tok != nil && tok.ClientID != "":
		return tok.ClientID // a verified token without a subject is still not anonymous
	default:
		return "anonymous"
	}
}

func policyReason(err error) string {
	if r := policy.ReasonOf(err); r != "" {
		return r
	}
	return policy.ReasonEval
}

// timeoutOr names a failure caused by the deadline as a timeout.
func timeoutOr(ctx context.Context, reason string) string {
	if ctx.Err() != nil {
		return ReasonTimeout
	}
	return reason
}

// newID returns a random version-4 UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
