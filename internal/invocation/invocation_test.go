package invocation

import (
	"context"
	"testing"
	"time"
)

func TestStartWaitsWithinItsBudget(t *testing.T) {
	tests := []struct {
		name     string
		task     *Task
		deadline time.Duration // 0 for none
		work     time.Duration
		// the request waits at least min and at most max
		min, max time.Duration
	}{
		{"quick work is waited for", &Task{Timeout: time.Second, Wait: time.Second}, 0, 20 * time.Millisecond, 20 * time.Millisecond, 500 * time.Millisecond},
		{"slow work is left after the budget", &Task{Timeout: 5 * time.Second, Wait: 50 * time.Millisecond}, 0, 600 * time.Millisecond, 50 * time.Millisecond, 400 * time.Millisecond},
		{"the deadline less the reserve comes first", &Task{Timeout: 5 * time.Second, Wait: 2 * time.Second, Reserve: 100 * time.Millisecond},
			200 * time.Millisecond, 600 * time.Millisecond, 50 * time.Millisecond, 400 * time.Millisecond},
		{"no time left: no wait", &Task{Timeout: 5 * time.Second, Wait: 2 * time.Second, Reserve: 300 * time.Millisecond},
			200 * time.Millisecond, 600 * time.Millisecond, 0, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			finished := make(chan struct{})
			start := time.Now()
			if !tt.task.Start(ctx, func(c context.Context) {
				defer close(finished)
				select {
				case <-time.After(tt.work):
				case <-c.Done():
				}
			}) {
				t.Fatal("the first run did not start")
			}
			if waited := time.Since(start); waited < tt.min || waited > tt.max {
				t.Fatalf("waited %v, want between %v and %v", waited, tt.min, tt.max)
			}
			<-finished
		})
	}
}

func TestOneRunAtATime(t *testing.T) {
	task := Task{Timeout: time.Second, Wait: 0}
	release := make(chan struct{})
	ended := make(chan struct{})
	if !task.Start(context.Background(), func(context.Context) { <-release; close(ended) }) {
		t.Fatal("the first run did not start")
	}
	if task.Start(context.Background(), func(context.Context) { t.Error("a second run started while the first went on") }) {
		t.Fatal("Start reported a second run")
	}
	close(release)
	<-ended
	for deadline := time.Now().Add(time.Second); task.running.Load() && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	ran := make(chan struct{})
	if !task.Start(context.Background(), func(context.Context) { close(ran) }) {
		t.Fatal("no run started after the first ended")
	}
	<-ran
}

func TestTheRunOutlivesTheRequest(t *testing.T) {
	task := Task{Timeout: time.Second, Wait: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := make(chan error, 1)
	task.Start(ctx, func(c context.Context) { time.Sleep(20 * time.Millisecond); got <- c.Err() })
	if err := <-got; err != nil {
		t.Fatalf("the run's context ended with the request's: %v", err)
	}
}
