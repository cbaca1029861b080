// Package metrics turns a log line into CloudWatch metrics. It adds the
// Embedded Metric Format (EMF) metadata, the "_aws" member, and the members it
// names to a JSON object the caller already builds (the authorizer's
// decision-log line), so that CloudWatch Logs extracts the metrics from the line
// as it arrives and no API call or agent is needed. Validate checks a decoded
// line against the same rules, for tests that read what the function wrote.
//
// The rules are those of the EMF specification,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html,
// and, for dimensions, names and units, those of the CloudWatch API types the
// metrics become (Dimension and MetricDatum in the CloudWatch API Reference):
// at most 100 metrics per directive and 30 dimensions per dimension set;
// every dimension a top-level string member; every metric a top-level number or
// array of at most 100 numbers; the time stamp in milliseconds since the epoch.
//
// It must never put free text or an unbounded value in a dimension: each
// distinct combination of dimension values is a new custom metric, billed
// monthly, so a dimension holding a request ID, a token subject, a path with
// IDs in it or an error message costs without limit and tells nothing. Such
// values belong in the line as ordinary members, where CloudWatch Logs Insights
// can still query them. Dimension values are small, closed sets: an outcome, a
// reason code, a route template, a stage.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Unit is the unit of a metric, one of the CloudWatch units (MetricDatum's
// StandardUnit). The empty Unit leaves it out, which CloudWatch reads as None.
type Unit string

// The units the authorizer uses. Any other valid CloudWatch unit, such as
// Unit("Seconds"), is accepted too.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
)

// Metric is one value of one metric.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Record is the metrics of one log line, published in one namespace under
// each of its dimension sets.
type Record struct {
	// Namespace is the CloudWatch namespace of the metrics.
	Namespace string
	// Dimensions are the dimension sets, each a list of dimension names; every
	// name must have a value in Values. Each set publishes every metric once
	// more (a set, a metric); no set at all publishes the metrics without
	// dimensions.
	Dimensions [][]string
	// Values are the dimension values by name.
	Values map[string]string
	// Metrics are the values, at most MaxMetrics of them.
	Metrics []Metric
}

// Limits of the specification and of the CloudWatch API.
const (
	// MaxMetrics is the most metrics one directive, and so one Record, holds.
	MaxMetrics = 100
	// MaxDimensions is the most dimension names a dimension set holds.
	MaxDimensions = 30
	// MaxValues is the most numbers an array metric value holds.
	MaxValues = 100
	// maxName is the longest namespace, dimension name or metric name.
	maxName = 255
	// maxDimensionValue is the longest dimension value.
	maxDimensionValue = 1024
)

// awsKey is the member that holds the EMF metadata.
const awsKey = "_aws"

// The EMF metadata as AddTo writes it, encoded by encoding/json.
type (
	metadata struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	directive struct {
		Namespace  string       `json:"Namespace"`
		Dimensions [][]string   `json:"Dimensions"`
		Metrics    []definition `json:"Metrics"`
	}
	definition struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit,omitempty"`
	}
)

// AddTo adds the record to obj, a JSON object about to be written as one line:
// the "_aws" member (the Timestamp of at, in milliseconds, and one
// CloudWatchMetrics directive) and one top-level member per dimension value and
// per metric. It fails, leaving obj unchanged, if the record breaks the
// specification: an empty or invalid namespace, no metric or more than
// MaxMetrics, a metric twice, a value that is NaN or infinite, a unit CloudWatch
// does not know, a dimension set of more than MaxDimensions names or with a name
// twice, a dimension without a value or a value with no dimension, a name or
// value CloudWatch refuses, or a member obj already has.
//
// obj holds its own copy of the dimension sets: changing r afterwards does not
// change the line.
func (r Record) AddTo(obj map[string]any, at time.Time) error {
	if err := r.check(obj, at); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

	n := 0
	for _, set := range r.Dimensions {
		n += len(set)
	}
	names := make([]string, 0, n)
	sets := make([][]string, 0, max(len(r.Dimensions), 1))
	for _, set := range r.Dimensions {
		start := len(names)
		names = append(names, set...)
		sets = append(sets, names[start:len(names):len(names)])
	}
	if len(sets) == 0 {
		// One empty set: the metrics without dimensions. The specification's
		// schema wants at least one set.
		sets = append(sets, []string{})
	}
	defs := make([]definition, len(r.Metrics))
	for i, m := range r.Metrics {
		defs[i] = definition{Name: m.Name, Unit: m.Unit}
	}

	for name, value := range r.Values {
		obj[name] = value
	}
	for _, m := range r.Metrics {
		obj[m.Name] = m.Value
	}
	obj[awsKey] = metadata{
		Timestamp:         at.UnixMilli(),
		CloudWatchMetrics: []directive{{Namespace: r.Namespace, Dimensions: sets, Metrics: defs}},
	}
	return nil
}

// check reports the first rule r breaks, added to obj at at.
func (r Record) check(obj map[string]any, at time.Time) error {
	if at.IsZero() || at.UnixMilli() < 0 {
		return fmt.Errorf("time stamp %v is not after 1970", at)
	}
	if _, ok := obj[awsKey]; ok {
		return errors.New(`the line already has an "_aws" member`)
	}
	if err := checkNamespace(r.Namespace); err != nil {
		return err
	}

	for i, set := range r.Dimensions {
		if len(set) > MaxDimensions {
			return fmt.Errorf("dimension set %d has %d names, more than %d", i, len(set), MaxDimensions)
		}
		for j, name := range set {
			if err := checkDimensionName(name); err != nil {
				return err
			}
			for _, earlier := range set[:j] {
				if earlier == name {
					return fmt.Errorf("dimension set %d names %q twice", i, name)
				}
			}
			value, ok := r.Values[name]
			if !ok {
				return fmt.Errorf("dimension %q has no value", name)
			}
			if err := checkDimensionValue(name, value); err != nil {
				return err
			}
		}
	}
	for name := range r.Values {
		if !inSets(r.Dimensions, name) {
			return fmt.Errorf("value %q is in no dimension set", name)
		}
		if _, ok := obj[name]; ok {
			return fmt.Errorf("dimension %q: the line already has that member", name)
		}
	}

	if len(r.Metrics) == 0 {
		return errors.New("no metric")
	}
	if len(r.Metrics) > MaxMetrics {
		return fmt.Errorf("%d metrics, more than %d", len(r.Metrics), MaxMetrics)
	}
	for i, m := range r.Metrics {
		if err := checkMetricName(m.Name); err != nil {
			return err
		}
		for _, earlier := range r.Metrics[:i] {
			if earlier.Name == m.Name {
				return fmt.Errorf("metric %q twice", m.Name)
			}
		}
		if _, ok := r.Values[m.Name]; ok {
			return fmt.Errorf("metric %q is also a dimension", m.Name)
		}
		if _, ok := obj[m.Name]; ok {
			return fmt.Errorf("metric %q: the line already has that member", m.Name)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return fmt.Errorf("metric %q: value %v is not a finite number", m.Name, m.Value)
		}
		if m.Unit != "" && !validUnits[m.Unit] {
			return fmt.Errorf("metric %q: unit %q is not a CloudWatch unit", m.Name, m.Unit)
		}
	}
	return nil
}

func inSets(sets [][]string, name string) bool {
	for _, set := range sets {
		for _, n := range set {
			if n == name {
				return true
			}
		}
	}
	return false
}

// AddAll adds several records to obj as one "_aws" member holding one
// directive per record, so that each record publishes its metrics under its
// own dimension sets: counts under fine dimensions, timings under coarse
// ones, without multiplying the custom metrics of either. A dimension two
// records share must have the same value in both. Like AddTo, it fails
// leaving obj unchanged.
func AddAll(obj map[string]any, at time.Time, records ...Record) error {
	out := make(map[string]any, len(obj)+16)
	for k, v := range obj {
		out[k] = v
	}
	dirs := make([]directive, 0, len(records))
	for _, r := range records {
		for name, v := range r.Values {
			if prev, ok := out[name]; ok && prev == v && shared(records, name) {
				delete(out, name) // written again, with the same value, by AddTo
			}
		}
		if err := r.AddTo(out, at); err != nil {
			return err
		}
		dirs = append(dirs, out[awsKey].(metadata).CloudWatchMetrics...)
		delete(out, awsKey)
	}
	if len(dirs) == 0 {
		return errors.New("metrics: no record")
	}
	out[awsKey] = metadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: dirs}
	for k, v := range out {
		obj[k] = v
	}
	return nil
}

// shared reports whether name is a dimension of more than one record.
func shared(records []Record, name string) bool {
	n := 0
	for _, r := range records {
		if _, ok := r.Values[name]; ok {
			n++
		}
	}
	return n > 1
}
