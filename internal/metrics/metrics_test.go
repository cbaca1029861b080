package metrics

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 30, 12, 0, 0, 123_000_000, time.UTC)

// decisionLine is a line as the authorizer builds it before metrics are added.
func decisionLine() map[string]any {
	return map[string]any{"level": "INFO", "msg": "decision", "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}
}

// roundTrip encodes obj as a line and decodes it, as a test reading the
// function's output sees it.
func roundTrip(t testing.TB, obj map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return line
}

func TestAddTo(t *testing.T) {
	cases := []struct {
		name     string
		record   Record
		wantDims []any // the directive's Dimensions, decoded
	}{
		{
			name: "one set",
			record: Record{
				Namespace:  "Authz",
				Dimensions: [][]string{{"Outcome"}},
				Values:     map[string]string{"Outcome": "allow"},
				Metrics:    []Metric{{Name: "Decisions", Unit: Count, Value: 1}, {Name: "Latency", Unit: Milliseconds, Value: 2.5}},
			},
			wantDims: []any{[]any{"Outcome"}},
		},
		{
			name: "several sets sharing names",
			record: Record{
				Namespace:  "Authz/dev",
				Dimensions: [][]string{{"Stage"}, {"Stage", "Outcome"}, {"Stage", "Outcome", "Reason"}},
				Values:     map[string]string{"Stage": "prod", "Outcome": "deny", "Reason": "token_expired"},
				Metrics:    []Metric{{Name: "Decisions", Unit: Count, Value: 1}, {Name: "PolicyBytes", Unit: Bytes, Value: 4096}},
			},
			wantDims: []any{[]any{"Stage"}, []any{"Stage", "Outcome"}, []any{"Stage", "Outcome", "Reason"}},
		},
		{
			name: "no dimensions, no unit, negative and zero values",
			record: Record{
				Namespace: "Authz",
				Metrics:   []Metric{{Name: "Drift", Value: -3}, {Name: "Reloads", Value: 0}},
			},
			wantDims: []any{[]any{}},
		},
		{
			name: "an empty dimension set beside another",
			record: Record{
				Namespace:  "Authz",
				Dimensions: [][]string{{}, {"Outcome"}},
				Values:     map[string]string{"Outcome": "allow"},
				Metrics:    []Metric{{Name: "Decisions", Unit: Count, Value: 1}},
			},
			wantDims: []any{[]any{}, []any{"Outcome"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := decisionLine()
			before := maps.Clone(obj)
			if err := c.record.AddTo(obj, at); err != nil {
				t.Fatalf("AddTo: %v", err)
			}
			line := roundTrip(t, obj)
			if err := Validate(line); err != nil {
				t.Fatalf("Validate refuses what AddTo wrote: %v\n%v", err, line)
			}

			for k, v := range before {
				if line[k] != v {
					t.Errorf("member %q = %v, want it kept as %v", k, line[k], v)
				}
			}
			for k, v := range c.record.Values {
				if line[k] != v {
					t.Errorf("dimension member %q = %#v, want %q", k, line[k], v)
				}
			}
			for _, m := range c.record.Metrics {
				if line[m.Name] != m.Value {
					t.Errorf("metric member %q = %#v, want %v", m.Name, line[m.Name], m.Value)
				}
			}
			if want := len(before) + len(c.record.Values) + len(c.record.Metrics) + 1; len(line) != want {
				t.Errorf("the line has %d members, want %d: %v", len(line), want, line)
			}

			meta := line["_aws"].(map[string]any)
			if got, want := meta["Timestamp"], float64(at.UnixMilli()); got != want {
				t.Errorf("Timestamp = %v, want %v", got, want)
			}
			directives := meta["CloudWatchMetrics"].([]any)
			if len(directives) != 1 {
				t.Fatalf("%d directives, want 1", len(directives))
			}
			d := directives[0].(map[string]any)
			if d["Namespace"] != c.record.Namespace {
				t.Errorf("Namespace = %v, want %q", d["Namespace"], c.record.Namespace)
			}
			if !reflect.DeepEqual(d["Dimensions"], c.wantDims) {
				t.Errorf("Dimensions = %#v, want %#v", d["Dimensions"], c.wantDims)
			}
			var wantDefs []any
			for _, m := range c.record.Metrics {
				def := map[string]any{"Name": m.Name}
				if m.Unit != "" {
					def["Unit"] = string(m.Unit)
				}
				wantDefs = append(wantDefs, def)
			}
			if !reflect.DeepEqual(d["Metrics"], wantDefs) {
				t.Errorf("Metrics = %#v, want %#v", d["Metrics"], wantDefs)
			}
		})
	}
}

// TestAddToKeepsItsOwnDimensions changes the record's dimension sets after
// AddTo: the line written later must not change with them.
func TestAddToKeepsItsOwnDimensions(t *testing.T) {
	dims := [][]string{{"Outcome"}}
	r := Record{Namespace: "Authz", Dimensions: dims, Values: map[string]string{"Outcome": "allow"},
		Metrics: []Metric{{Name: "Decisions", Unit: Count, Value: 1}}}
	obj := decisionLine()
	if err := r.AddTo(obj, at); err != nil {
		t.Fatal(err)
	}
	dims[0][0] = "Changed"
	line := roundTrip(t, obj)
	if err := Validate(line); err != nil {
		t.Fatalf("the line changed with the record: %v", err)
	}
}

func TestAddToRefuses(t *testing.T) {
	valid := func() Record {
		return Record{
			Namespace:  "Authz",
			Dimensions: [][]string{{"Outcome"}},
			Values:     map[string]string{"Outcome": "allow"},
			Metrics:    []Metric{{Name: "Decisions", Unit: Count, Value: 1}},
		}
	}
	manyNames := make([]string, MaxDimensions+1)
	manyValues := map[string]string{}
	for i := range manyNames {
		manyNames[i] = "D" + strconv.Itoa(i)
		manyValues[manyNames[i]] = "v"
	}
	manyMetrics := make([]Metric, MaxMetrics+1)
	for i := range manyMetrics {
		manyMetrics[i] = Metric{Name: "M" + strconv.Itoa(i), Value: 1}
	}

	cases := []struct {
		name   string
		change func(r *Record, obj map[string]any, at *time.Time)
		want   string // in the error
	}{
		{"empty namespace", func(r *Record, _ map[string]any, _ *time.Time) { r.Namespace = "" }, "namespace"},
		{"blank namespace", func(r *Record, _ map[string]any, _ *time.Time) { r.Namespace = "   " }, "white space"},
		{"namespace with a newline", func(r *Record, _ map[string]any, _ *time.Time) { r.Namespace = "Authz\n" }, "not printable ASCII"},
		{"namespace too long", func(r *Record, _ map[string]any, _ *time.Time) { r.Namespace = strings.Repeat("n", 256) }, "more than 255"},
		{"namespace starting with a colon", func(r *Record, _ map[string]any, _ *time.Time) { r.Namespace = ":Authz" }, "colon"},
		{"dimension without value", func(r *Record, _ map[string]any, _ *time.Time) { r.Dimensions = [][]string{{"Outcome", "Stage"}} }, `"Stage" has no value`},
		{"value without dimension", func(r *Record, _ map[string]any, _ *time.Time) { r.Values["Stage"] = "prod" }, `"Stage" is in no dimension set`},
		{"values but no dimension set", func(r *Record, _ map[string]any, _ *time.Time) { r.Dimensions = nil }, "in no dimension set"},
		{"31 dimensions in a set", func(r *Record, _ map[string]any, _ *time.Time) {
			r.Dimensions, r.Values = [][]string{manyNames}, manyValues
		}, "31 names, more than 30"},
		{"a dimension twice in a set", func(r *Record, _ map[string]any, _ *time.Time) { r.Dimensions = [][]string{{"Outcome", "Outcome"}} }, "twice"},
		{"empty dimension value", func(r *Record, _ map[string]any, _ *time.Time) { r.Values["Outcome"] = "" }, "empty or white space"},
		{"non-ASCII dimension value", func(r *Record, _ map[string]any, _ *time.Time) { r.Values["Outcome"] = "refusé" }, "not printable ASCII"},
		{"dimension value too long", func(r *Record, _ map[string]any, _ *time.Time) { r.Values["Outcome"] = strings.Repeat("x", 1025) }, "more than 1024"},
		{"dimension name starting with a colon", func(r *Record, _ map[string]any, _ *time.Time) {
			r.Dimensions, r.Values = [][]string{{":Outcome"}}, map[string]string{":Outcome": "allow"}
		}, "colon"},
		{"dimension named _aws", func(r *Record, _ map[string]any, _ *time.Time) {
			r.Dimensions, r.Values = [][]string{{"_aws"}}, map[string]string{"_aws": "x"}
		}, "metadata member"},
		{"no metric", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics = nil }, "no metric"},
		{"101 metrics", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics = manyMetrics }, "101 metrics, more than 100"},
		{"a metric twice", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics = append(r.Metrics, r.Metrics[0]) }, "twice"},
		{"NaN", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Value = math.NaN() }, "not a finite number"},
		{"+Inf", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Value = math.Inf(1) }, "not a finite number"},
		{"-Inf", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Value = math.Inf(-1) }, "not a finite number"},
		{"unknown unit", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Unit = "ms" }, "not a CloudWatch unit"},
		{"unit in the wrong case", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Unit = "count" }, "not a CloudWatch unit"},
		{"empty metric name", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Name = "" }, "empty or white space"},
		{"metric name too long", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Name = strings.Repeat("é", 256) }, "256 characters"},
		{"metric named _aws", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Name = "_aws" }, "metadata member"},
		{"metric named as a dimension", func(r *Record, _ map[string]any, _ *time.Time) { r.Metrics[0].Name = "Outcome" }, "also a dimension"},
		{"dimension the line already has", func(_ *Record, obj map[string]any, _ *time.Time) { obj["Outcome"] = "deny" }, `dimension "Outcome": the line already has`},
		{"metric the line already has", func(_ *Record, obj map[string]any, _ *time.Time) { obj["Decisions"] = 7.0 }, `metric "Decisions": the line already has`},
		{"line with _aws already", func(_ *Record, obj map[string]any, _ *time.Time) { obj["_aws"] = map[string]any{} }, `already has an "_aws"`},
		{"zero time", func(_ *Record, _ map[string]any, at *time.Time) { *at = time.Time{} }, "not after 1970"},
		{"time before 1970", func(_ *Record, _ map[string]any, at *time.Time) { *at = time.Unix(-1, 0) }, "not after 1970"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, obj, when := valid(), decisionLine(), at
			c.change(&r, obj, &when)
			before := maps.Clone(obj)
			err := r.AddTo(obj, when)
			if err == nil {
				t.Fatalf("AddTo accepted it: %v", obj)
			}
			if !strings.HasPrefix(err.Error(), "metrics: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one starting %q and saying %q", err, "metrics: ", c.want)
			}
			if !reflect.DeepEqual(obj, before) {
				t.Errorf("AddTo changed the line it refused:\n got %v\nwant %v", obj, before)
			}
		})
	}
}

// benchRecord is about what a decision line carries: three dimension sets and
// ten metrics.
var benchRecord = Record{
	Namespace:  "Authz",
	Dimensions: [][]string{{"Stage"}, {"Stage", "Outcome"}, {"Stage", "Outcome", "Reason"}},
	Values:     map[string]string{"Stage": "prod", "Outcome": "deny", "Reason": "token_expired"},
	Metrics: []Metric{
		{Name: "Decisions", Unit: Count, Value: 1},
		{Name: "Allowed", Unit: Count, Value: 0},
		{Name: "Denied", Unit: Count, Value: 1},
		{Name: "Errors", Unit: Count, Value: 0},
		{Name: "Latency", Unit: Milliseconds, Value: 3.2},
		{Name: "TokenLatency", Unit: Milliseconds, Value: 1.1},
		{Name: "PolicyLatency", Unit: Milliseconds, Value: 0.8},
		{Name: "KeySetFetches", Unit: Count, Value: 0},
		{Name: "PolicyReloads", Unit: Count, Value: 0},
		{Name: "ResponseBytes", Unit: Bytes, Value: 412},
	},
}

func BenchmarkAddTo(b *testing.B) {
	b.ReportAllocs()
	obj := make(map[string]any, 32)
	for b.Loop() {
		clear(obj)
		obj["level"], obj["msg"], obj["requestId"] = "INFO", "decision", "c6af9ac6"
		if err := benchRecord.AddTo(obj, at); err != nil {
			b.Fatal(err)
		}
	}
}
