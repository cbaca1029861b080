package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/apigw-authz/authz/internal/decision"
)

// Report is what a replay found. Its JSON form is for scripts; WriteText is
// for people.
type Report struct {
	// Candidate names where the candidate was read from; the caller sets it.
	Candidate string `json:"candidate"`
	Revision  string `json:"candidate_revision"`
	Query     string `json:"query"`

	Files []FileStats `json:"files"`
	// Events are the distinct decision events read; Duplicates the events
	// whose decision_id came again, counted once.
	Events     int `json:"events"`
	Duplicates int `json:"duplicates"`
	// Replayed = Unchanged + Changed: the events the candidate decided.
	Replayed  int `json:"replayed"`
	Unchanged int `json:"unchanged"`
	Changed   int `json:"changed"`
	// Unreplayable are events the candidate could not be asked about
	// faithfully; UnreadableLines are decision lines that could not be read.
	// Either leaves the proof incomplete.
	Unreplayable    int `json:"unreplayable"`
	UnreadableLines int `json:"unreadable_lines"`
	// NotEvaluated are events the policy was not asked about (no input):
	// refused before it, by reason.
	NotEvaluated   int           `json:"not_evaluated"`
	NotEvaluatedBy []ReasonCount `json:"not_evaluated_by_reason"`

	ByRoute      []RouteCount      `json:"changes_by_route"`
	ByTransition []TransitionCount `json:"changes_by_transition"`
	// Changes, Unreplayed and Unreadable list at most Limit entries each
	// (all when Limit is 0), in log order.
	Changes        []Change        `json:"changes"`
	UnreplayableBy []ConflictCount `json:"unreplayable_by_cause"`
	Unreplayed     []Unreplayable  `json:"unreplayable_events"`
	Unreadable     []Unreadable    `json:"unreadable"`
	Limit          int             `json:"limit"`

	// OtherQueries count the events logged for another query than the
	// candidate's (a shadow query, another AUTHZ_QUERY): their results are
	// compared with the candidate's query all the same.
	OtherQueries []QueryCount `json:"other_logged_queries"`

	// Reads are what the candidate reads of the input, for the masking check.
	Reads []Read `json:"candidate_reads"`

	// Complete is true when every decision event was replayed (or was not
	// a policy decision at all).
	Complete bool `json:"complete"`
}

// Clean reports whether the replay proves the candidate changes nothing:
// no replayed decision changed and every decision was replayed.
func (r *Report) Clean() bool { return r.Changed == 0 && r.Complete }

// Verdict says in one sentence what the replay shows.
func (r *Report) Verdict() string {
	var parts []string
	if r.Changed > 0 {
		parts = append(parts, fmt.Sprintf("the candidate changes %d of %d replayed decisions", r.Changed, r.Replayed))
	} else {
		parts = append(parts, fmt.Sprintf("the candidate changes none of %d replayed decisions", r.Replayed))
	}
	if missed := r.Unreplayable + r.UnreadableLines; missed > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be replayed, so the proof is incomplete", missed))
	}
	return strings.Join(parts, "; ")
}

// MarshalJSON adds the verdict and Clean to the report's fields, and writes
// its lists as [] rather than null.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	out := plain(*r)
	nonNil(&out.Files)
	nonNil(&out.NotEvaluatedBy)
	nonNil(&out.ByRoute)
	nonNil(&out.ByTransition)
	nonNil(&out.Changes)
	nonNil(&out.UnreplayableBy)
	nonNil(&out.Unreplayed)
	nonNil(&out.Unreadable)
	nonNil(&out.Reads)
	nonNil(&out.OtherQueries)
	return json.Marshal(struct {
		plain
		Clean   bool   `json:"clean"`
		Verdict string `json:"verdict"`
	}{out, r.Clean(), r.Verdict()})
}

func nonNil[T any](s *[]T) {
	if *s == nil {
		*s = []T{}
	}
}

// Change is a decision that the candidate would make differently.
type Change struct {
	DecisionID string `json:"decision_id"`
	Timestamp  string `json:"timestamp"`
	Principal  string `json:"principal,omitempty"`
	Route      string `json:"route"`
	// Source is where the event was read: file:line.
	Source string `json:"source"`
	// Transition is "deny → allow", "allow → allow (grants changed)", ...
	Transition string `json:"transition"`
	// Fields are the response's fields that changed when the class did not.
	Fields    []string `json:"changed_fields,omitempty"`
	Logged    Outcome  `json:"logged"`
	Candidate Outcome  `json:"candidate"`
	// GrantsAdded are given by the candidate alone; GrantsRemoved by the log alone.
	GrantsAdded   []decision.Grant `json:"grants_added,omitempty"`
	GrantsRemoved []decision.Grant `json:"grants_removed,omitempty"`
}

// Conflict is a pointer of an event's input that the log erased, masked or
// clipped, and that the candidate reads.
type Conflict struct {
	Pointer string `json:"pointer"`
	// How is erased or masked (by the mask rules), or clipped (a long
	// string cut short, custom.clipped).
	How  string `json:"how"`
	Read Read   `json:"read"`
}

func (c Conflict) String() string {
	return fmt.Sprintf("the log %s %s, which the candidate reads with %s", c.How, c.Pointer, c.Read)
}

// Unreplayable is an event that was not replayed, and why.
type Unreplayable struct {
	DecisionID string     `json:"decision_id"`
	Timestamp  string     `json:"timestamp"`
	Principal  string     `json:"principal,omitempty"`
	Route      string     `json:"route"`
	Source     string     `json:"source"`
	Why        string     `json:"why"`
	Conflicts  []Conflict `json:"conflicts,omitempty"`
}

// ConflictCount counts the unreplayable events of one cause.
type ConflictCount struct {
	Cause   string `json:"cause"`
	Pointer string `json:"pointer,omitempty"`
	Read    *Read  `json:"read,omitempty"`
	Count   int    `json:"count"`
}

// Unreadable is a decision line that could not be read.
type Unreadable struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// RouteCount counts the changes of one route, by transition.
type RouteCount struct {
	Route       string            `json:"route"`
	Count       int               `json:"count"`
	Transitions []TransitionCount `json:"transitions"`
}

// TransitionCount counts the changes of one transition.
type TransitionCount struct {
	Transition string `json:"transition"`
	Count      int    `json:"count"`
}

// QueryCount counts the events logged for one query, as OPA names it
// (authz/decision).
type QueryCount struct {
	Path  string `json:"path"`
	Count int    `json:"count"`
}

// ReasonCount counts the events of one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// WriteText writes the report for people: the counts, the changes by route
// and by transition, each change and each unreplayable event (up to the
// limit), and the verdict last, where a CI log shows it.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	files := make([]string, len(r.Files))
	for i, f := range r.Files {
		files[i] = fmt.Sprintf("%s (%d lines: %d decisions, %d others)", f.Name, f.Lines, f.Decisions, f.Skipped)
	}
	p.f("Candidate      %s (revision %s, query %s)\n", r.Candidate, r.Revision, r.Query)
	p.f("Logs           %s\n", strings.Join(files, ", "))
	p.f("Events         %d decisions read", r.Events)
	switch {
	case r.Duplicates == 1:
		p.f(" (1 more line repeated a decision id: counted once)")
	case r.Duplicates > 1:
		p.f(" (%d more lines repeated a decision id: counted once)", r.Duplicates)
	}
	p.f("\n")
	p.f("Replayed       %d: %d unchanged, %d changed\n", r.Replayed, r.Unchanged, r.Changed)
	p.f("Unreplayable   %d", r.Unreplayable)
	if r.Unreplayable > 0 {
		p.f(": the candidate cannot be asked about them faithfully (below)")
	}
	p.f("\n")
	if r.UnreadableLines > 0 {
		p.f("Unreadable     %d decision lines could not be read (below)\n", r.UnreadableLines)
	}
	p.f("Not evaluated  %d: refused before the policy was asked, no input logged", r.NotEvaluated)
	if len(r.NotEvaluatedBy) > 0 {
		parts := make([]string, len(r.NotEvaluatedBy))
		for i, c := range r.NotEvaluatedBy {
			parts[i] = fmt.Sprintf("%s %d", c.Reason, c.Count)
		}
		p.f(" (%s)", strings.Join(parts, ", "))
	}
	p.f("\n")

	for _, q := range r.OtherQueries {
		p.f("Note           %d events were logged for the query %s, not the candidate's %s: is --query right?\n", q.Count, q.Path, r.Query)
	}

	if len(r.ByRoute) > 0 {
		p.f("\nChanges by route:\n")
		width := 0
		for _, rc := range r.ByRoute {
			width = max(width, len(rc.Route))
		}
		for _, rc := range r.ByRoute {
			parts := make([]string, len(rc.Transitions))
			for i, tc := range rc.Transitions {
				parts[i] = fmt.Sprintf("%s: %d", tc.Transition, tc.Count)
			}
			p.f("  %6d  %-*s  %s\n", rc.Count, width, rc.Route, strings.Join(parts, ", "))
		}
		p.f("\nChanges by transition:\n")
		environment := false
		for _, tc := range r.ByTransition {
			p.f("  %6d  %s\n", tc.Count, tc.Transition)
			environment = environment || strings.HasPrefix(tc.Transition, "error:timeout ") || strings.HasPrefix(tc.Transition, "error:policy_not_ready ")
		}
		if environment {
			p.f("  (a logged timeout or policy_not_ready came from the function, not from the policy: the candidate is asked offline, without either)\n")
		}
	}
	if len(r.Changes) > 0 {
		p.f("\nChanged decisions%s:\n", r.shown(len(r.Changes), r.Changed))
		for _, c := range r.Changes {
			p.change(c)
		}
	}
	if r.Unreplayable > 0 {
		p.f("\nNot replayed, by cause:\n")
		for _, c := range r.UnreplayableBy {
			p.f("  %6d  %s\n", c.Count, c.Cause)
		}
		p.f("\nNot replayed%s:\n", r.shown(len(r.Unreplayed), r.Unreplayable))
		for _, u := range r.Unreplayed {
			p.f("  %s  %s  %s  %s  (%s)\n      %s\n", u.DecisionID, u.Timestamp, orDash(u.Principal), u.Route, u.Source, u.Why)
		}
	}
	if r.UnreadableLines > 0 {
		p.f("\nUnreadable decision lines%s:\n", r.shown(len(r.Unreadable), r.UnreadableLines))
		for _, u := range r.Unreadable {
			p.f("  %s: %s\n", u.Source, u.Error)
		}
	}
	verdict := "UNCHANGED"
	switch {
	case r.Changed > 0:
		verdict = "CHANGED"
	case !r.Complete:
		verdict = "INCOMPLETE"
	}
	p.f("\n%s: %s.\n", verdict, r.Verdict())
	return p.err
}

// shown says how many of total a list shows.
func (r *Report) shown(n, total int) string {
	if n < total {
		return fmt.Sprintf(" (the first %d of %d; --limit shows more)", n, total)
	}
	return fmt.Sprintf(" (%d)", total)
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

func (p *printer) change(c Change) {
	p.f("  %s  %s  %s  %s\n", c.DecisionID, c.Timestamp, orDash(c.Principal), c.Route)
	p.f("      %s\n", c.Transition)
	p.f("      logged:     %s\n", describe(c.Logged))
	p.f("      candidate:  %s\n", describe(c.Candidate))
	for _, field := range c.Fields {
		lr, cr := c.Logged.Response, c.Candidate.Response
		switch field {
		case "grants":
			var parts []string
			for _, g := range c.GrantsAdded {
				parts = append(parts, "+ "+g.Method+" "+g.Path)
			}
			for _, g := range c.GrantsRemoved {
				parts = append(parts, "- "+g.Method+" "+g.Path)
			}
			p.f("      grants:     %s\n", strings.Join(parts, ", "))
		case "principal_id":
			p.f("      principal:  %q → %q\n", lr.PrincipalID, cr.PrincipalID)
		case "context":
			a, _ := json.Marshal(lr.Context)
			b, _ := json.Marshal(cr.Context)
			p.f("      context:    %s → %s\n", a, b)
		case "usage_identifier_key":
			p.f("      usage key:  changed\n") // an API key: not printed
		}
	}
	p.f("      logged at:  %s\n", c.Source)
}

// describe writes an outcome on one line: class, code, reasons, error.
func describe(o Outcome) string {
	s := o.Class
	if o.Code != "" {
		s += ", code " + o.Code
	}
	if len(o.Reasons) > 0 {
		q := make([]string, len(o.Reasons))
		for i, r := range o.Reasons {
			q[i] = fmt.Sprintf("%q", r)
		}
		s += ", reasons " + strings.Join(q, "; ")
	}
	if o.Error != "" {
		s += ": " + o.Error
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
