package metrics

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// validUnits are the units CloudWatch knows (MetricDatum's StandardUnit, and
// the pattern of the specification's schema).
var validUnits = map[Unit]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true,
	"Bytes": true, "Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true,
	"Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true, "None": true,
}

// checkNamespace applies the schema's length and PutMetricData's rules: ASCII
// without control characters, not starting with a colon.
func checkNamespace(ns string) error {
	if err := checkASCII(ns, maxName); err != nil {
		return fmt.Errorf("namespace %q: %w", clip(ns), err)
	}
	if ns[0] == ':' {
		return fmt.Errorf("namespace %q starts with a colon", ns)
	}
	return nil
}

// checkDimensionName applies the rules of the CloudWatch Dimension type: ASCII
// without control characters, not all white space, not starting with a colon,
// 1 to 255 characters.
func checkDimensionName(name string) error {
	if err := checkASCII(name, maxName); err != nil {
		return fmt.Errorf("dimension name %q: %w", clip(name), err)
	}
	if name[0] == ':' {
		return fmt.Errorf("dimension name %q starts with a colon", name)
	}
	if name == awsKey {
		return fmt.Errorf("dimension name %q is the metadata member", name)
	}
	return nil
}

// checkDimensionValue applies the rules of the CloudWatch Dimension type: ASCII
// without control characters, not all white space, 1 to 1,024 characters.
func checkDimensionValue(name, value string) error {
	if err := checkASCII(value, maxDimensionValue); err != nil {
		return fmt.Errorf("dimension %q: value %q: %w", clip(name), clip(value), err)
	}
	return nil
}

// checkMetricName applies the schema's and MetricDatum's 1 to 255 characters.
func checkMetricName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("metric name %q is empty or white space", name)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("metric name %q is not UTF-8", name)
	}
	if n := utf8.RuneCountInString(name); n > maxName {
		return fmt.Errorf("metric name %q has %d characters, more than %d", clip(name), n, maxName)
	}
	if name == awsKey {
		return fmt.Errorf("metric name %q is the metadata member", name)
	}
	return nil
}

// checkASCII reports whether s is 1 to maxLen printable ASCII characters or
// spaces, not all of them spaces.
func checkASCII(s string, maxLen int) error {
	if len(s) > maxLen {
		return fmt.Errorf("%d characters, more than %d", len(s), maxLen)
	}
	blank := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("byte %#x at %d is not printable ASCII", c, i)
		}
		if c != ' ' {
			blank = false
		}
	}
	if blank {
		return errors.New("empty or white space")
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
