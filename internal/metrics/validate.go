package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Validate checks that line, a JSON object as encoding/json decodes it into a
// map[string]any (numbers as float64, or json.Number with UseNumber), is an EMF
// document CloudWatch extracts metrics from:
//
//   - "_aws" is an object holding Timestamp, a whole non-negative number of
//     milliseconds, and CloudWatchMetrics, a non-empty array of directives;
//   - each directive holds Namespace, a non-empty string; Dimensions, an array
//     of at least one dimension set, each an array of at most MaxDimensions
//     names, each naming a top-level member whose value is a string; and
//     Metrics, an array of at most MaxMetrics definitions;
//   - each definition holds Name, naming a top-level member whose value is a
//     number or an array of at most MaxValues numbers, and may hold Unit, a
//     CloudWatch unit, and StorageResolution, 1 or 60;
//   - names, namespaces and dimension values keep the CloudWatch API's rules
//     (lengths; ASCII for namespaces and dimensions);
//   - the objects the specification defines hold no other member, as it
//     requires.
//
// It does not check the size of the encoded line (at most that of a CloudWatch
// Logs event) nor how far the time stamp is from now.
func Validate(line map[string]any) error {
	if err := validate(line); err != nil {
		return fmt.Errorf("metrics: invalid EMF line: %w", err)
	}
	return nil
}

func validate(line map[string]any) error {
	raw, ok := line[awsKey]
	if !ok {
		return errors.New(`no "_aws" member`)
	}
	meta, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf(`"_aws" is a %s, not an object`, jsonType(raw))
	}
	if err := onlyMembers(meta, "_aws", "Timestamp", "CloudWatchMetrics"); err != nil {
		return err
	}
	ts, ok := meta["Timestamp"]
	if !ok {
		return errors.New("_aws: no Timestamp")
	}
	if ms, ok := number(ts); !ok || ms < 0 || ms != math.Trunc(ms) {
		return fmt.Errorf("_aws.Timestamp %v (a %s) is not a whole number of milliseconds since 1970", ts, jsonType(ts))
	}
	raw, ok = meta["CloudWatchMetrics"]
	if !ok {
		return errors.New("_aws: no CloudWatchMetrics")
	}
	directives, ok := raw.([]any)
	if !ok {
		return fmt.Errorf("_aws.CloudWatchMetrics is a %s, not an array", jsonType(raw))
	}
	if len(directives) == 0 {
		return errors.New("_aws.CloudWatchMetrics is empty")
	}
	for i, d := range directives {
		if err := validateDirective(line, d); err != nil {
			return fmt.Errorf("_aws.CloudWatchMetrics[%d]: %w", i, err)
		}
	}
	return nil
}

func validateDirective(line map[string]any, raw any) error {
	d, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("a %s, not an object", jsonType(raw))
	}
	if err := onlyMembers(d, "directive", "Namespace", "Dimensions", "Metrics"); err != nil {
		return err
	}

	ns, ok := d["Namespace"].(string)
	if !ok {
		return fmt.Errorf(`"Namespace" is a %s, not a string`, jsonType(d["Namespace"]))
	}
	if err := checkNamespace(ns); err != nil {
		return err
	}

	sets, ok := d["Dimensions"].([]any)
	if !ok {
		return fmt.Errorf(`"Dimensions" is a %s, not an array`, jsonType(d["Dimensions"]))
	}
	if len(sets) == 0 {
		return errors.New(`"Dimensions" has no dimension set (an empty set, [[]], publishes without dimensions)`)
	}
	for i, raw := range sets {
		set, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("dimension set %d is a %s, not an array", i, jsonType(raw))
		}
		if len(set) > MaxDimensions {
			return fmt.Errorf("dimension set %d has %d names, more than %d", i, len(set), MaxDimensions)
		}
		for _, raw := range set {
			name, ok := raw.(string)
			if !ok {
				return fmt.Errorf("dimension set %d holds a %s, not a dimension name", i, jsonType(raw))
			}
			if err := checkDimensionName(name); err != nil {
				return err
			}
			member, ok := line[name]
			if !ok {
				return fmt.Errorf("dimension %q is not a member of the line", name)
			}
			value, ok := member.(string)
			if !ok {
				return fmt.Errorf("dimension %q is a %s, not a string", name, jsonType(member))
			}
			if err := checkDimensionValue(name, value); err != nil {
				return err
			}
		}
	}

	defs, ok := d["Metrics"].([]any)
	if !ok {
		return fmt.Errorf(`"Metrics" is a %s, not an array`, jsonType(d["Metrics"]))
	}
	if len(defs) > MaxMetrics {
		return fmt.Errorf(`"Metrics" has %d definitions, more than %d`, len(defs), MaxMetrics)
	}
	for i, raw := range defs {
		if err := validateDefinition(line, raw); err != nil {
			return fmt.Errorf("metric definition %d: %w", i, err)
		}
	}
	return nil
}

func validateDefinition(line map[string]any, raw any) error {
	def, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("a %s, not an object", jsonType(raw))
	}
	if err := onlyMembers(def, "metric definition", "Name", "Unit", "StorageResolution"); err != nil {
		return err
	}
	name, ok := def["Name"].(string)
	if !ok {
		return fmt.Errorf(`"Name" is a %s, not a string`, jsonType(def["Name"]))
	}
	if err := checkMetricName(name); err != nil {
		return err
	}
	if raw, ok := def["Unit"]; ok {
		if unit, ok := raw.(string); !ok || !validUnits[Unit(unit)] {
			return fmt.Errorf("metric %q: Unit %v is not a CloudWatch unit", name, raw)
		}
	}
	if raw, ok := def["StorageResolution"]; ok {
		if r, ok := number(raw); !ok || (r != 1 && r != 60) {
			return fmt.Errorf("metric %q: StorageResolution %v is neither 1 nor 60", name, raw)
		}
	}

	member, ok := line[name]
	if !ok {
		return fmt.Errorf("metric %q is not a member of the line", name)
	}
	if _, ok := number(member); ok {
		return nil
	}
	values, ok := member.([]any)
	if !ok {
		return fmt.Errorf("metric %q is a %s, not a number or an array of numbers", name, jsonType(member))
	}
	if len(values) > MaxValues {
		return fmt.Errorf("metric %q has %d values, more than %d", name, len(values), MaxValues)
	}
	for j, v := range values {
		if _, ok := number(v); !ok {
			return fmt.Errorf("metric %q: value %d is a %s, not a number", name, j, jsonType(v))
		}
	}
	return nil
}

// onlyMembers refuses a member of obj not in names: the specification's
// objects "MUST NOT contain any additional members".
func onlyMembers(obj map[string]any, what string, names ...string) error {
next:
	for k := range obj {
		for _, n := range names {
			if k == n {
				continue next
			}
		}
		return fmt.Errorf("%s has member %q, which the specification does not define", what, k)
	}
	return nil
}

// number returns v as a float64 if it is a finite JSON number.
func number(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null or nothing"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("Go %T (not decoded JSON)", v)
}
