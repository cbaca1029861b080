// Package replay re-evaluates logged decisions against a candidate policy,
// offline, to show what a policy change would change on real traffic before
// it is deployed: the decisions whose outcome or response would differ, and
// the events it could not replay because the decision log masked a part of
// the input that the candidate reads.
//
// It reads the authorizer's decision-log lines (OPA decision-log events with
// the authorizer's members under custom) and asks the candidate through
// policy.Engine.DecideAt, at each event's own time. It never guesses a masked
// value: an event whose input the candidate reads where the log erased,
// masked or clipped it is reported, not replayed, and counts against the
// proof. It only reads logs and evaluates: it never writes a decision log,
// never calls a network service, and never passes a decision off as proven
// when part of the log could not be replayed.
package replay

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/policy"
)

// Candidate is the policy that a log is replayed against.
type Candidate struct {
	engine *policy.Engine
	reads  []Read
	// path is the query as OPA's decision log names it.
	path string
}

// NewCandidate compiles b with the decision query (policy.DefaultQuery when
// ""), as the authorizer would load it, and works out what it reads of the
// input (InputReads). name, when not nil, rewrites the file names of the
// bundle in the reads' locations (to name the source folder of a layered
// bundle, say).
func NewCandidate(ctx context.Context, b *bundle.Bundle, query string, name func(string) string) (*Candidate, error) {
	reads := InputReads(b) // before the compiler sees the modules
	if name != nil {
		for i := range reads {
			reads[i].At, reads[i].Via = name(reads[i].At), name(reads[i].Via)
		}
	}
	e, err := policy.Compile(ctx, b, query, false)
	if err != nil {
		return nil, err
	}
	return &Candidate{engine: e, reads: reads, path: policy.LogPath(e.Query())}, nil
}

// Reads returns what the candidate reads of the input.
func (c *Candidate) Reads() []Read { return append([]Read(nil), c.reads...) }

// Revision identifies the candidate: its manifest's revision or a digest.
func (c *Candidate) Revision() string { return c.engine.Revision() }

// Query is the candidate's decision query.
func (c *Candidate) Query() string { return c.engine.Query() }

// Replay replays logs against a candidate and adds up what changed.
// Use New, then ReadLog for each log, then Report.
type Replay struct {
	cand  *Candidate
	limit int
	seen  map[string]bool
	rep   Report

	byRoute      map[string]map[string]int
	byTransition map[string]int
	byConflict   map[string]*ConflictCount
	notEvaluated map[string]int
	otherQueries map[string]int
}

// New starts a replay against cand. limit caps the decisions that the report
// lists one by one (changes, unreplayable events, unreadable lines); 0 lists
// them all. Every count covers every event whatever the limit.
func New(cand *Candidate, limit int) *Replay {
	return &Replay{
		cand: cand, limit: limit, seen: map[string]bool{},
		rep:     Report{Revision: cand.Revision(), Query: cand.Query(), Limit: limit, Reads: cand.Reads()},
		byRoute: map[string]map[string]int{}, byTransition: map[string]int{},
		byConflict: map[string]*ConflictCount{}, notEvaluated: map[string]int{}, otherQueries: map[string]int{},
	}
}

// ReadLog reads one log, gzip-compressed or not, and replays its decisions.
// The error is for a log that cannot be read (or a cancelled ctx), not for
// a decision that changes.
func (r *Replay) ReadLog(ctx context.Context, in io.Reader, name string) (FileStats, error) {
	stats, err := readLog(in, name, func(ev *Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.add(ctx, ev)
		return nil
	}, func(u unreadableLine) {
		r.rep.UnreadableLines++
		if r.keep(len(r.rep.Unreadable)) {
			r.rep.Unreadable = append(r.rep.Unreadable, Unreadable{Source: u.source, Error: u.err.Error()})
		}
	})
	r.rep.Files = append(r.rep.Files, stats)
	return stats, err
}

func (r *Replay) keep(n int) bool { return r.limit <= 0 || n < r.limit }

// add replays one event.
func (r *Replay) add(ctx context.Context, ev *Event) {
	if ev.DecisionID != "" {
		if r.seen[ev.DecisionID] {
			r.rep.Duplicates++
			return
		}
		r.seen[ev.DecisionID] = true
	}
	r.rep.Events++
	if ev.Path != "" && r.cand.path != "" && ev.Path != r.cand.path {
		r.otherQueries[ev.Path]++
	}
	if len(ev.Input) == 0 || string(ev.Input) == "null" {
		// Refused before the policy: a bad token, an ambiguous path, ...
		r.rep.NotEvaluated++
		r.notEvaluated[cmp.Or(ev.custom("reason"), ev.custom("outcome"), "unknown")]++
		return
	}
	var input map[string]any
	if err := decodeJSON(ev.Input, &input); err != nil {
		r.unreplayable(ev, nil, "the logged input is not a JSON object")
		return
	}
	at, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
	if err != nil {
		r.unreplayable(ev, input, "no RFC 3339 timestamp: the candidate's clock cannot be set to the decision's time")
		return
	}
	if conflicts := r.conflicts(ev); len(conflicts) > 0 {
		r.unreplayable(ev, input, "", conflicts...)
		return
	}
	mask, allowMasked := maskOf(slices.Concat(ev.Erased, ev.Masked, ev.clipped()))
	if allowMasked {
		r.unreplayable(ev, input, "the log masked the result's allow: the logged decision is unknown")
		return
	}

	r.rep.Replayed++
	logged := loggedOutcome(ev, input, mask)
	d, err := r.cand.engine.DecideAt(ctx, input, at)
	candidate := candidateOutcome(d, err, input)
	var fields []string
	if logged.Class == candidate.Class && logged.Response != nil && candidate.Response != nil {
		fields = changedFields(logged.Response, candidate.Response, mask)
	}
	if logged.Class == candidate.Class && len(fields) == 0 {
		r.rep.Unchanged++
		return
	}
	r.rep.Changed++
	route := routeOf(input)
	t := transition(logged.Class, candidate.Class, fields)
	if r.byRoute[route] == nil {
		r.byRoute[route] = map[string]int{}
	}
	r.byRoute[route][t]++
	r.byTransition[t]++
	if r.keep(len(r.rep.Changes)) {
		c := Change{
			DecisionID: ev.DecisionID, Timestamp: ev.Timestamp, Principal: principalOf(ev, input), Route: route,
			Source: ev.Source, Transition: t, Fields: fields, Logged: logged, Candidate: candidate,
		}
		if logged.Response != nil && candidate.Response != nil {
			c.GrantsAdded, c.GrantsRemoved = grantsDiff(logged.Response.Grants, candidate.Response.Grants)
		}
		r.rep.Changes = append(r.rep.Changes, c)
	}
}

// conflicts returns the masked or erased pointers into the input that the
// candidate reads, each with its first read.
func (r *Replay) conflicts(ev *Event) []Conflict {
	var out []Conflict
	for _, list := range []struct {
		how      string
		pointers []string
	}{{"erased", ev.Erased}, {"masked", ev.Masked}, {"clipped", ev.clipped()}} {
		for _, p := range list.pointers {
			seg, ok := splitPointer(p)
			if !ok || len(seg) == 0 || seg[0] != "input" {
				continue
			}
			// OPA matches a mask path's parts literally, without RFC 6901's
			// ~0 and ~1: either reading that overlaps is a conflict.
			literal := strings.Split(p[1:], "/")
			for _, read := range r.cand.reads {
				if overlaps(seg, read.segments) || overlaps(literal, read.segments) {
					out = append(out, Conflict{Pointer: p, How: list.how, Read: read})
					break
				}
			}
		}
	}
	return out
}

func (r *Replay) unreplayable(ev *Event, input map[string]any, why string, conflicts ...Conflict) {
	r.rep.Unreplayable++
	causes := []ConflictCount{{Cause: why}}
	if len(conflicts) > 0 {
		causes = causes[:0]
		for _, c := range conflicts {
			read := c.Read
			causes = append(causes, ConflictCount{Cause: c.String(), Pointer: c.Pointer, Read: &read})
		}
	}
	var whys []string
	for _, c := range causes {
		whys = append(whys, c.Cause)
		if r.byConflict[c.Cause] == nil {
			r.byConflict[c.Cause] = &c
		}
		r.byConflict[c.Cause].Count++
	}
	if r.keep(len(r.rep.Unreplayed)) {
		r.rep.Unreplayed = append(r.rep.Unreplayed, Unreplayable{
			DecisionID: ev.DecisionID, Timestamp: ev.Timestamp, Principal: principalOf(ev, input),
			Route: routeOf(input), Source: ev.Source, Why: strings.Join(whys, "; "), Conflicts: conflicts,
		})
	}
}

// Report returns what the replay found so far.
func (r *Replay) Report() *Report {
	rep := r.rep
	rep.Files = append([]FileStats(nil), r.rep.Files...)
	rep.Changes = append([]Change(nil), r.rep.Changes...)
	rep.Unreplayed = append([]Unreplayable(nil), r.rep.Unreplayed...)
	rep.Unreadable = append([]Unreadable(nil), r.rep.Unreadable...)
	rep.ByRoute = nil
	for route, transitions := range r.byRoute {
		rc := RouteCount{Route: route, Transitions: counts(transitions)}
		for _, tc := range rc.Transitions {
			rc.Count += tc.Count
		}
		rep.ByRoute = append(rep.ByRoute, rc)
	}
	sort.Slice(rep.ByRoute, func(i, j int) bool {
		a, b := rep.ByRoute[i], rep.ByRoute[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Route < b.Route)
	})
	rep.ByTransition = counts(r.byTransition)
	rep.NotEvaluatedBy = nil
	for reason, n := range r.notEvaluated {
		rep.NotEvaluatedBy = append(rep.NotEvaluatedBy, ReasonCount{Reason: reason, Count: n})
	}
	sort.Slice(rep.NotEvaluatedBy, func(i, j int) bool {
		a, b := rep.NotEvaluatedBy[i], rep.NotEvaluatedBy[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Reason < b.Reason)
	})
	rep.OtherQueries = nil
	for path, n := range r.otherQueries {
		rep.OtherQueries = append(rep.OtherQueries, QueryCount{Path: path, Count: n})
	}
	sort.Slice(rep.OtherQueries, func(i, j int) bool { return rep.OtherQueries[i].Path < rep.OtherQueries[j].Path })
	rep.UnreplayableBy = nil
	for _, c := range r.byConflict {
		rep.UnreplayableBy = append(rep.UnreplayableBy, *c)
	}
	sort.Slice(rep.UnreplayableBy, func(i, j int) bool {
		a, b := rep.UnreplayableBy[i], rep.UnreplayableBy[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Cause < b.Cause)
	})
	rep.Complete = rep.Unreplayable == 0 && rep.UnreadableLines == 0
	return &rep
}

func counts(m map[string]int) []TransitionCount {
	out := make([]TransitionCount, 0, len(m))
	for t, n := range m {
		out = append(out, TransitionCount{Transition: t, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || (out[i].Count == out[j].Count && out[i].Transition < out[j].Transition)
	})
	return out
}

// routeOf names the route of a request: its route key, else "METHOD path",
// else (a WebSocket route) the path.
func routeOf(input map[string]any) string {
	req, _ := input["request"].(map[string]any)
	str := func(k string) string { s, _ := req[k].(string); return s }
	if rk := str("route_key"); rk != "" {
		return rk
	}
	method, path := str("method"), str("path")
	switch {
	case method == "" && path == "":
		return "(no route)"
	case method == "":
		return path
	}
	return method + " " + path
}

// principalOf is the logged principal, else the token's subject.
func principalOf(ev *Event, input map[string]any) string {
	token, _ := input["token"].(map[string]any)
	subject, _ := token["subject"].(string)
	return cmp.Or(ev.custom("principal"), ev.custom("subject"), subject)
}

// grantsDiff returns the grants only the candidate gives, and those only the
// log gave.
func grantsDiff(logged, candidate []decision.Grant) (added, removed []decision.Grant) {
	for _, g := range candidate {
		if !slices.Contains(logged, g) {
			added = append(added, g)
		}
	}
	for _, g := range logged {
		if !slices.Contains(candidate, g) {
			removed = append(removed, g)
		}
	}
	return added, removed
}

func decodeJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}
