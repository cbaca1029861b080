package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Event is one decision of the log: OPA's decision-log event (the members of
// logs.EventV1 that a replay needs) with the authorizer's members under custom.
type Event struct {
	DecisionID string `json:"decision_id"`
	// Timestamp is RFC 3339 with nanoseconds: when the policy was asked.
	Timestamp string `json:"timestamp"`
	// Path is the decision query as OPA logs it: authz/decision for
	// data.authz.decision.
	Path string `json:"path"`
	// Input is the input after masking; nil when the policy was not asked.
	Input json.RawMessage `json:"input"`
	// Result is the raw value of the decision query; nil when it had none.
	Result json.RawMessage `json:"result"`
	// Erased and Masked are the JSON pointers that the mask rules erased or
	// replaced.
	Erased []string `json:"erased"`
	Masked []string `json:"masked"`
	// Custom holds the authorizer's members (outcome, reason, code, principal...).
	Custom map[string]any `json:"custom"`

	// Source is where the event was read: file:line.
	Source string `json:"-"`
}

// custom returns the string member name of the authorizer's members, or "".
func (e *Event) custom(name string) string {
	s, _ := e.Custom[name].(string)
	return s
}

// clipped returns the pointers of the strings the authorizer cut short
// before it wrote the line (custom.clipped): the logged values there are not
// the ones the policy saw.
func (e *Event) clipped() []string {
	list, _ := e.Custom["clipped"].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// logLine is what tells a decision line from the others.
type logLine struct {
	DecisionID *string `json:"decision_id"`
}

// FileStats counts the lines of one log file.
type FileStats struct {
	Name string `json:"name"`
	// Lines are all the lines read.
	Lines int `json:"lines"`
	// Decisions are the lines holding a decision-log event, duplicates included.
	Decisions int `json:"decision_lines"`
	// Skipped are the other lines: plain log lines, platform lines, text.
	Skipped int `json:"skipped_lines"`
	// Unreadable are lines that name a decision_id but are not a readable
	// event (cut short, say): decisions that could not be replayed.
	Unreadable int `json:"unreadable_lines"`
}

// maxLine bounds one line of a log. CloudWatch Logs keeps events of up to 256 KiB;
// this leaves room for a local file written by other means.
const maxLine = 16 << 20

// unreadableLine is a line that names a decision_id but could not be read as
// an event.
type unreadableLine struct {
	source string
	err    error
}

// readLog reads one log, gzip-compressed or not (an export of CloudWatch Logs
// to S3 is), and calls event for every decision line in turn. A line may carry
// text before its JSON object (a timestamp and a tab, as an export does):
// the object starts at the first '{'. Lines without a decision_id are skipped.
func readLog(r io.Reader, name string, event func(*Event) error, unreadable func(unreadableLine)) (FileStats, error) {
	stats := FileStats{Name: name}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return stats, fmt.Errorf("%s: %v", name, err)
		}
		defer gz.Close()
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	for {
		line, err := readLine(br)
		if len(line) > 0 || (err == nil) {
			stats.Lines++
			source := fmt.Sprintf("%s:%d", name, stats.Lines)
			ev, isDecision, perr := parseLine(line)
			switch {
			case perr != nil && isDecision:
				stats.Decisions++
				stats.Unreadable++
				unreadable(unreadableLine{source: source, err: perr})
			case !isDecision:
				stats.Skipped++
			default:
				stats.Decisions++
				ev.Source = source
				if err := event(ev); err != nil {
					return stats, err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return stats, nil
		}
		if err != nil {
			return stats, fmt.Errorf("%s: line %d: %v", name, stats.Lines+1, err)
		}
	}
}

// readLine reads one line, without its end, refusing one over maxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("a line is longer than %d MiB", maxLine>>20)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// parseLine reads the JSON object of a line. isDecision says that the line
// holds a decision-log event, or names a decision_id when it is not readable.
func parseLine(line []byte) (ev *Event, isDecision bool, err error) {
	start := bytes.IndexByte(line, '{')
	if start < 0 {
		return nil, false, nil
	}
	text := bytes.TrimSpace(line[start:])
	var probe logLine
	if err := json.Unmarshal(text, &probe); err != nil {
		return nil, bytes.Contains(text, []byte(`"decision_id"`)), err
	}
	if probe.DecisionID == nil {
		return nil, false, nil
	}
	ev = &Event{}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(ev); err != nil {
		return nil, true, err
	}
	return ev, true, nil
}
