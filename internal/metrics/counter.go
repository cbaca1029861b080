package metrics

import "sync/atomic"

// Counter counts events between two records, such as the policy reloads seen
// between two decision lines. Add may be called from any goroutine; Take
// returns the count since the previous Take and starts again from zero, in one
// atomic step, so that no event is counted twice or lost. The zero Counter is
// ready to use.
type Counter struct {
	n atomic.Int64
}

// Add adds n events.
func (c *Counter) Add(n int64) { c.n.Add(n) }

// Take returns the events added since the previous Take.
func (c *Counter) Take() int64 { return c.n.Swap(0) }
