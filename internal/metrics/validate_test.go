package metrics

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestValidateSpecExample validates the example of the specification's page,
// decoded both ways encoding/json decodes numbers.
func TestValidateSpecExample(t *testing.T) {
	b, err := os.ReadFile("testdata/spec-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatal(err)
	}
	if err := Validate(line); err != nil {
		t.Errorf("Validate refuses the specification's example: %v", err)
	}

	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	line = nil
	if err := dec.Decode(&line); err != nil {
		t.Fatal(err)
	}
	if err := Validate(line); err != nil {
		t.Errorf("Validate refuses the specification's example decoded with UseNumber: %v", err)
	}
}

// validLine is a line Validate accepts; each case changes one thing in it.
const validLine = `{
  "_aws": {
    "Timestamp": 1764504000123,
    "CloudWatchMetrics": [{
      "Namespace": "Authz",
      "Dimensions": [["Stage"], ["Stage", "Outcome"]],
      "Metrics": [
        {"Name": "Decisions", "Unit": "Count"},
        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60},
        {"Name": "Samples"}
      ]
    }]
  },
  "Stage": "prod",
  "Outcome": "deny",
  "Decisions": 1,
  "Latency": 2.5,
  "Samples": [1, 2, 3],
  "msg": "decision"
}`

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var line map[string]any
	if err := json.Unmarshal([]byte(s), &line); err != nil {
		t.Fatal(err)
	}
	return line
}

func firstDirective(line map[string]any) map[string]any {
	return line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
}

func definitions(line map[string]any) []any {
	return firstDirective(line)["Metrics"].([]any)
}

func numbers(n int) []any {
	a := make([]any, n)
	for i := range a {
		a[i] = float64(i)
	}
	return a
}

func TestValidateAccepts(t *testing.T) {
	cases := []struct {
		name   string
		change func(line map[string]any)
	}{
		{"as it is", func(map[string]any) {}},
		{"high resolution", func(l map[string]any) { definitions(l)[0].(map[string]any)["StorageResolution"] = 1.0 }},
		{"no dimensions", func(l map[string]any) { firstDirective(l)["Dimensions"] = []any{[]any{}} }},
		{"no metrics", func(l map[string]any) { firstDirective(l)["Metrics"] = []any{} }},
		{"30 dimensions", func(l map[string]any) {
			set := make([]any, 30)
			for i := range set {
				set[i] = "D" + strconv.Itoa(i)
				l["D"+strconv.Itoa(i)] = "v"
			}
			firstDirective(l)["Dimensions"] = []any{set}
		}},
		{"100 values", func(l map[string]any) { l["Samples"] = numbers(100) }},
		{"a unit of None", func(l map[string]any) { definitions(l)[0].(map[string]any)["Unit"] = "None" }},
		{"Count/Second", func(l map[string]any) { definitions(l)[0].(map[string]any)["Unit"] = "Count/Second" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := decode(t, validLine)
			c.change(line)
			if err := Validate(line); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		name   string
		change func(line map[string]any)
		want   string // in the error
	}{
		{"no _aws", func(l map[string]any) { delete(l, "_aws") }, `no "_aws"`},
		{"_aws a string", func(l map[string]any) { l["_aws"] = "{}" }, "not an object"},
		{"_aws with another member", func(l map[string]any) { l["_aws"].(map[string]any)["LogGroupName"] = "x" }, `"LogGroupName"`},
		{"no Timestamp", func(l map[string]any) { delete(l["_aws"].(map[string]any), "Timestamp") }, "no Timestamp"},
		{"Timestamp a string", func(l map[string]any) { l["_aws"].(map[string]any)["Timestamp"] = "1764504000123" }, "Timestamp"},
		{"Timestamp in seconds with a fraction", func(l map[string]any) { l["_aws"].(map[string]any)["Timestamp"] = 1764504000.123 }, "whole number"},
		{"Timestamp negative", func(l map[string]any) { l["_aws"].(map[string]any)["Timestamp"] = -1.0 }, "Timestamp"},
		{"no CloudWatchMetrics", func(l map[string]any) { delete(l["_aws"].(map[string]any), "CloudWatchMetrics") }, "no CloudWatchMetrics"},
		{"CloudWatchMetrics an object", func(l map[string]any) { l["_aws"].(map[string]any)["CloudWatchMetrics"] = map[string]any{} }, "not an array"},
		{"CloudWatchMetrics empty", func(l map[string]any) { l["_aws"].(map[string]any)["CloudWatchMetrics"] = []any{} }, "empty"},
		{"directive a string", func(l map[string]any) { l["_aws"].(map[string]any)["CloudWatchMetrics"] = []any{"x"} }, "not an object"},
		{"directive with another member", func(l map[string]any) { firstDirective(l)["Region"] = "eu-west-1" }, `"Region"`},
		{"no Namespace", func(l map[string]any) { delete(firstDirective(l), "Namespace") }, `"Namespace" is a null`},
		{"empty Namespace", func(l map[string]any) { firstDirective(l)["Namespace"] = "" }, "namespace"},
		{"Namespace a number", func(l map[string]any) { firstDirective(l)["Namespace"] = 1.0 }, "not a string"},
		{"no Dimensions", func(l map[string]any) { delete(firstDirective(l), "Dimensions") }, `"Dimensions" is a null`},
		{"Dimensions empty", func(l map[string]any) { firstDirective(l)["Dimensions"] = []any{} }, "no dimension set"},
		{"dimension set a string", func(l map[string]any) { firstDirective(l)["Dimensions"] = []any{"Stage"} }, "not an array"},
		{"dimension name a number", func(l map[string]any) { firstDirective(l)["Dimensions"] = []any{[]any{1.0}} }, "not a dimension name"},
		{"dimension name not a member", func(l map[string]any) { delete(l, "Outcome") }, `"Outcome" is not a member`},
		{"dimension value a number", func(l map[string]any) { l["Outcome"] = 3.0 }, `"Outcome" is a number, not a string`},
		{"dimension value nested", func(l map[string]any) { l["Outcome"] = map[string]any{"v": "deny"} }, "not a string"},
		{"dimension value empty", func(l map[string]any) { l["Outcome"] = "" }, "empty"},
		{"31 dimensions in a set", func(l map[string]any) {
			set := make([]any, 31)
			for i := range set {
				set[i] = "D" + strconv.Itoa(i)
				l["D"+strconv.Itoa(i)] = "v"
			}
			firstDirective(l)["Dimensions"] = []any{set}
		}, "31 names, more than 30"},
		{"no Metrics", func(l map[string]any) { delete(firstDirective(l), "Metrics") }, `"Metrics" is a null`},
		{"101 metrics", func(l map[string]any) {
			defs := make([]any, 101)
			for i := range defs {
				defs[i] = map[string]any{"Name": "M" + strconv.Itoa(i)}
				l["M"+strconv.Itoa(i)] = 1.0
			}
			firstDirective(l)["Metrics"] = defs
		}, "101 definitions, more than 100"},
		{"definition a string", func(l map[string]any) { firstDirective(l)["Metrics"] = []any{"Decisions"} }, "not an object"},
		{"definition without Name", func(l map[string]any) { delete(definitions(l)[0].(map[string]any), "Name") }, `"Name" is a null`},
		{"definition with another member", func(l map[string]any) { definitions(l)[0].(map[string]any)["Value"] = 1.0 }, `"Value"`},
		{"metric not a member", func(l map[string]any) { delete(l, "Decisions") }, `"Decisions" is not a member`},
		{"metric value a string", func(l map[string]any) { l["Decisions"] = "1" }, `"Decisions" is a string`},
		{"metric value a boolean", func(l map[string]any) { l["Decisions"] = true }, "boolean"},
		{"metric value null", func(l map[string]any) { l["Decisions"] = nil }, "null"},
		{"metric array with a string", func(l map[string]any) { l["Samples"] = []any{1.0, "2"} }, "value 1 is a string"},
		{"metric array of 101", func(l map[string]any) { l["Samples"] = numbers(101) }, "101 values, more than 100"},
		{"unknown unit", func(l map[string]any) { definitions(l)[0].(map[string]any)["Unit"] = "Requests" }, "not a CloudWatch unit"},
		{"unit a number", func(l map[string]any) { definitions(l)[0].(map[string]any)["Unit"] = 1.0 }, "not a CloudWatch unit"},
		{"StorageResolution 5", func(l map[string]any) { definitions(l)[1].(map[string]any)["StorageResolution"] = 5.0 }, "neither 1 nor 60"},
		{"StorageResolution a string", func(l map[string]any) { definitions(l)[1].(map[string]any)["StorageResolution"] = "60" }, "neither 1 nor 60"},
		{"metric name empty", func(l map[string]any) { definitions(l)[0].(map[string]any)["Name"] = ""; l[""] = 1.0 }, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := decode(t, validLine)
			c.change(line)
			err := Validate(line)
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !strings.HasPrefix(err.Error(), "metrics: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one starting %q and saying %q", err, "metrics: ", c.want)
			}
		})
	}
}
