package metrics

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestAddAllOneDirectivePerRecord(t *testing.T) {
	at := time.UnixMilli(1767225600123)
	counted := Record{Namespace: "Authz", Dimensions: [][]string{{"Function", "Outcome"}},
		Values: map[string]string{"Function": "authz", "Outcome": "deny"}, Metrics: []Metric{{Name: "Decisions", Unit: Count, Value: 1}}}
	timed := Record{Namespace: "Authz", Dimensions: [][]string{{"Function"}},
		Values: map[string]string{"Function": "authz"}, Metrics: []Metric{{Name: "Latency", Unit: Milliseconds, Value: 1.5}}}
	obj := map[string]any{"msg": "decision"}
	if err := AddAll(obj, at, counted, timed); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatal(err)
	}
	if err := Validate(line); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	dirs := line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)
	if len(dirs) != 2 {
		t.Fatalf("%d directives, want 2: %s", len(dirs), b)
	}
	if got := dirs[1].(map[string]any)["Dimensions"]; !strings.Contains(string(mustJSON(t, got)), `[["Function"]]`) {
		t.Errorf("the second directive's dimensions are %v", got)
	}
	if line["Function"] != "authz" || line["Outcome"] != "deny" || line["Decisions"] != 1.0 || line["Latency"] != 1.5 {
		t.Errorf("members: %s", b)
	}
}

func TestAddAllRefusesADimensionWithTwoValues(t *testing.T) {
	a := Record{Namespace: "Authz", Dimensions: [][]string{{"Function"}}, Values: map[string]string{"Function": "a"},
		Metrics: []Metric{{Name: "Decisions", Unit: Count, Value: 1}}}
	b := Record{Namespace: "Authz", Dimensions: [][]string{{"Function"}}, Values: map[string]string{"Function": "b"},
		Metrics: []Metric{{Name: "Latency", Unit: Milliseconds, Value: 1}}}
	obj := map[string]any{"msg": "decision"}
	before := maps.Clone(obj)
	if err := AddAll(obj, time.Now(), a, b); err == nil {
		t.Fatal("two values of one dimension were accepted")
	}
	if !maps.Equal(obj, before) {
		t.Fatalf("a refused AddAll changed the line: %v", obj)
	}
	if err := AddAll(obj, time.Now()); err == nil {
		t.Fatal("no record was accepted")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
