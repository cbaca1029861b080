// Package invocation runs the background work a request finds due (a check
// for a new policy bundle, an upload of decision-log events) the way a Lambda
// function must: Lambda freezes the process as soon as a request is
// answered, so work left running after it stops mid-way and, frozen longer
// than its timeout, fails at the next thaw. The request that starts the work
// waits for it, briefly and within its own deadline.
//
// It never fails the request: the work's errors are the work's to report.
package invocation

import (
	"context"
	"sync/atomic"
	"time"
)

// Task is background work of which at most one run goes on at a time.
type Task struct {
	// Timeout bounds each run, which goes on without the request that
	// started it once that has stopped waiting.
	Timeout time.Duration
	// Wait is the most a request waits for the run it started.
	Wait time.Duration
	// Reserve is kept free before the request's deadline, to answer it.
	Reserve time.Duration

	running atomic.Bool
}

// Start runs f in the background, with a context of its own bounded by
// Timeout, unless a run is going on; and waits for it at most Wait, never
// past ctx's deadline less Reserve, nor past ctx's end. It reports whether
// it started a run.
func (t *Task) Start(ctx context.Context, f func(context.Context)) bool {
	if !t.running.CompareAndSwap(false, true) {
		return false
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer t.running.Store(false)
		rctx, cancel := context.WithTimeout(context.Background(), t.Timeout)
		defer cancel()
		f(rctx)
	}()
	wait := t.Wait
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(deadline)-t.Reserve)
	}
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-ctx.Done():
	}
	return true
}
