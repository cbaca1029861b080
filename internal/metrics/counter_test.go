package metrics

import (
	"sync"
	"testing"
)

func TestCounterTakeStartsAgain(t *testing.T) {
	var c Counter
	if got := c.Take(); got != 0 {
		t.Errorf("the zero Counter took %d", got)
	}
	c.Add(2)
	c.Add(3)
	if got := c.Take(); got != 5 {
		t.Errorf("Take = %d, want 5", got)
	}
	if got := c.Take(); got != 0 {
		t.Errorf("the second Take = %d, want 0", got)
	}
}

// TestCounterLosesNothing adds from many goroutines while another takes: what
// was taken and what is left must be all that was added, each event once.
func TestCounterLosesNothing(t *testing.T) {
	const adders, adds = 8, 10_000
	var c Counter
	var wg sync.WaitGroup
	for range adders {
		wg.Go(func() {
			for range adds {
				c.Add(1)
			}
		})
	}
	done := make(chan struct{})
	taken := make(chan int64)
	go func() {
		var sum int64
		for {
			select {
			case <-done:
				taken <- sum
				return
			default:
				sum += c.Take()
			}
		}
	}()
	wg.Wait()
	close(done)
	total := <-taken + c.Take()
	if total != adders*adds {
		t.Errorf("took %d in all, want %d", total, adders*adds)
	}
}
