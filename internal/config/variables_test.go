package config

import (
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVariablesAreWhatFromEnvReads holds the table to the code: FromEnv asks
// for every variable of the table, and for no other, whether the others are
// set or not (a variable read only when another is set counts too).
func TestVariablesAreWhatFromEnvReads(t *testing.T) {
	var read []string
	every := map[string]string{"AUTHZ_ISSUERS": issuers, "AUTHZ_BUNDLE": "https://bundles.example.com/authz.tar.gz",
		"AUTHZ_SHADOW_QUERY": "data.candidate.decision", "AUTHZ_METRICS": "off", "AUTHZ_LOG_LEVEL": "debug"}
	for _, set := range []map[string]string{{"AUTHZ_ISSUERS": issuers}, every} {
		getenv := func(name string) string {
			if !slices.Contains(read, name) {
				read = append(read, name)
			}
			return set[name]
		}
		if _, err := FromEnv(getenv, false); err != nil {
			t.Fatal(err)
		}
	}
	var table []string
	for _, v := range Variables {
		table = append(table, v.Name)
	}
	slices.Sort(read)
	slices.Sort(table)
	if !slices.Equal(read, table) {
		t.Fatalf("FromEnv reads %v; the table lists %v", read, table)
	}
}

// TestVariablesDefaults: an unset variable and one set to its documented
// default configure the same thing, and only the required ones are needed.
func TestVariablesDefaults(t *testing.T) {
	unset, err := FromEnv(env(map[string]string{"AUTHZ_ISSUERS": issuers}), false)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]string{"AUTHZ_ISSUERS": issuers}
	for _, v := range Variables {
		if v.Default != "" {
			set[v.Name] = v.Default
		}
	}
	explicit, err := FromEnv(env(set), false)
	if err != nil {
		t.Fatal(err)
	}
	if unset.BundlePollInterval != time.Minute || !reflect.DeepEqual(explicit, unset) {
		t.Fatalf("the documented defaults differ from the unset ones:\n%+v\n%+v", explicit, unset)
	}
	for _, v := range Variables {
		if !v.Required {
			continue
		}
		without := maps.Clone(set)
		delete(without, v.Name)
		if _, err := FromEnv(env(without), false); err == nil || !strings.Contains(err.Error(), v.Name) {
			t.Errorf("%s is required, but FromEnv without it says %v", v.Name, err)
		}
	}
	if v, ok := Lookup("AUTHZ_ISSUERS"); !ok || !v.Required {
		t.Errorf("Lookup(AUTHZ_ISSUERS) = %+v, %v", v, ok)
	}
	if _, ok := Lookup("AWS_REGION"); ok {
		t.Error("Lookup found a variable the authorizer does not read")
	}
}

// TestVariablesAreTheREADMEs: the README's configuration table lists exactly
// the table's variables, in its order, with its defaults.
func TestVariablesAreTheREADMEs(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)\n## Configuration\n(.*?)\n### ").FindSubmatch(b)
	if section == nil {
		t.Fatal("the README has no Configuration section")
	}
	rows := regexp.MustCompile("(?m)^\\| `(AUTHZ_[A-Z_]+)` \\| ([^|]*) \\|").FindAllSubmatch(section[1], -1)
	if len(rows) != len(Variables) {
		t.Fatalf("the README's table has %d variables, the code %d", len(rows), len(Variables))
	}
	for i, row := range rows {
		v := Variables[i]
		if string(row[1]) != v.Name {
			t.Errorf("row %d of the README is %s, the table's is %s", i+1, row[1], v.Name)
			continue
		}
		def := string(row[2])
		switch {
		case v.Required && def != "none (required)":
			t.Errorf("%s: the README's default is %q; it is required", v.Name, def)
		case v.Default != "" && def != "`"+v.Default+"`":
			t.Errorf("%s: the README's default is %q, the table's %q", v.Name, def, v.Default)
		case !v.Required && v.Default == "" && def != "none" && def != "the embedded bundle":
			t.Errorf("%s: the README's default is %q; the table has none", v.Name, def)
		}
	}
}
