package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeLoad drives `authz serve` with concurrent clients over loopback for
// a bounded time, with a mix of requests allowed, denied by the policy, with a
// forged token and with none: every response must be the one the same request
// got alone, and no request may fail in transport, and the server must close
// every connection the clients close. Throughput, the server's CPU time and
// its RSS are reported, not asserted (the machines are shared).
func TestServeLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("bounded load: a few seconds; -short leaves it out")
	}
	// The cache off and no identity source required: every request, the one
	// without a token too, is a decision of the authorizer, so the figures
	// are decisions, not cache hits.
	s := startServe(t, "--cache-ttl", "0", "--identity-source", "")
	admin := s.mintToken(t, "--sub", "alice", "--groups", "admins")
	reader := s.mintToken(t, "--sub", "bob", "--groups", "orders-readers")
	// The reader's claims under the admin's signature.
	forged := reader[:strings.LastIndex(reader, ".")] + admin[strings.LastIndex(admin, "."):]

	type request struct {
		name, method, path, token string
		status                    int
		// body is the response's body when two calls alone gave the same,
		// else empty: only the status is then held.
		body string
	}
	requests := []request{
		{name: "admin deletes", method: "DELETE", path: "/orders/42", token: admin, status: 200},
		{name: "reader reads", method: "GET", path: "/orders/7?expand=lines", token: reader, status: 200},
		{name: "reader deletes", method: "DELETE", path: "/orders/42", token: reader, status: 403},
		{name: "reader administers", method: "GET", path: "/admin/users", token: reader, status: 403},
		{name: "forged token", method: "GET", path: "/orders/7", token: forged, status: 401},
		{name: "no token", method: "GET", path: "/orders/7", status: 401},
	}
	// Alone, first: the answers to hold the load to.
	for i, r := range requests {
		status, body := s.call(t, r.method, r.path, r.token)
		if status != r.status {
			t.Fatalf("alone: %s: %d %s", r.name, status, body)
		}
		if _, again := s.call(t, r.method, r.path, r.token); again == body {
			requests[i].body = body
		}
	}

	pid := s.cmd.Process.Pid
	before := readProc(t, pid)
	workers := 4 * runtime.NumCPU()
	client := &http.Client{
		// One connection a worker, kept: no connection churn to exhaust the
		// loopback's ports, as a gateway's pool would not churn either.
		Transport: &http.Transport{MaxIdleConnsPerHost: workers},
		Timeout:   10 * time.Second,
	}
	const duration = 2 * time.Second
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	stop := start.Add(duration)
	for w := range workers {
		wg.Go(func() {
			for i := w % len(requests); time.Now().Before(stop); i = (i + 1) % len(requests) {
				r := requests[i]
				status, body, err := callConcurrently(client, s.base, r.method, r.path, r.token)
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s: %v", r.name, err)
					return
				case status != r.status || r.body != "" && body != r.body:
					errs <- fmt.Errorf("%s: %d under load, %d alone; body %q", r.name, status, r.status, body)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	after := readProc(t, pid)
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Each connection the server holds is a goroutine of net/http: once the
	// clients have closed theirs, the server holds no more than before.
	client.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for openFiles(t, pid) > before.files && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := openFiles(t, pid); n > before.files {
		t.Errorf("the server holds %d files after the load, %d before", n, before.files)
	}

	held := 0
	for _, r := range requests {
		if r.body != "" {
			held++
		}
	}
	n := done.Load()
	cpu := after.cpu - before.cpu
	t.Logf("%d requests (each a decision; status held, body too for %d of the %d kinds) from %d clients in %s: %.0f a second; the server used %.2f s of CPU (%.0f%% of %d cores), %.0f decisions per CPU-second; server VmRSS %.1f MiB before, %.1f MiB after",
		n, held, len(requests), workers, took.Round(time.Millisecond), float64(n)/took.Seconds(), cpu.Seconds(),
		100*cpu.Seconds()/took.Seconds()/float64(runtime.NumCPU()), runtime.NumCPU(),
		float64(n)/cpu.Seconds(), float64(before.rss)/(1<<20), float64(after.rss)/(1<<20))
}

// callConcurrently is server.call for many goroutines at once: it returns the
// transport's error instead of failing the test, which only the test's own
// goroutine may do.
func callConcurrently(client *http.Client, base, method, path, token string) (int, string, error) {
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// procReading is a reading of a process's /proc files.
type procReading struct {
	rss   int64         // VmRSS, bytes
	cpu   time.Duration // user + system CPU time
	files int           // open file descriptors
}

// userHZ is the unit of /proc/PID/stat's CPU times: USER_HZ, which Linux
// fixes at 100 for user space whatever the kernel's tick.
const userHZ = 100

func readProc(t *testing.T, pid int) procReading {
	t.Helper()
	p := procReading{files: openFiles(t, pid)}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: the fields are
	// counted after it, from the third (state); utime and stime are the
	// 14th and 15th.
	_, rest, _ := strings.Cut(string(stat), ") ")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	for _, f := range fields[11:13] {
		ticks, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/stat: %q", pid, stat)
		}
		p.cpu += time.Duration(ticks) * time.Second / userHZ
	}
	p.rss = procMemory(t, pid, "VmRSS")
	return p
}

// openFiles counts the process's open file descriptors.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
