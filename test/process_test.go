package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// process is a built binary under test, its stdout and stderr collected line by
// line.
type process struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	// checks run on every line the process wrote, once it has ended.
	checks []func(t *testing.T, lines []string)
}

// startProcess runs bin with args and an environment of env plus PATH and HOME
// only, and stops it with stop when the test ends, showing its output if the
// test failed.
func startProcess(t *testing.T, stop os.Signal, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...)}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	pipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(stop)
		_ = p.cmd.Wait()
		<-done
		for _, check := range p.checks {
			check(t, p.output())
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, p.text())
		}
	})
	return p
}

// checkOutput adds a check of everything the process wrote, run when the test
// ends, after the process has stopped and its last line has been read.
func (p *process) checkOutput(check func(t *testing.T, lines []string)) {
	p.checks = append(p.checks, check)
}

func (p *process) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *process) text() string { return strings.Join(p.output(), "\n") }

// procMemory reads a memory field of /proc/PID/status (VmRSS, VmHWM …) of a
// running process, in bytes.
func procMemory(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("the memory of process %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
