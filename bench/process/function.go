package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// function is a Lambda binary running under a fake Runtime API.
type function struct {
	cmd    *exec.Cmd
	api    *runtimeAPI
	output *sink
	// exec is when the process was started: just before fork and exec.
	exec time.Time
	// exited is closed when the process has exited, and cmd.ProcessState
	// holds its status and CPU time.
	exited chan struct{}
}

// lambdaEnv is what Lambda sets for a provided.al2023 function, less the
// credentials, which the default configuration does not use.
func lambdaEnv(dir string) []string {
	return []string{
		"AWS_REGION=eu-west-1",
		"AWS_DEFAULT_REGION=eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME=authorizer",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/authorizer",
		"AWS_LAMBDA_LOG_STREAM_NAME=bench",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT=" + dir,
		"_HANDLER=bootstrap",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin/:/bin",
	}
}

// startFunction starts bin with env (and Lambda's variables) under a new fake
// Runtime API; first, when not nil, is queued as the first invocation before the
// process starts.
func startFunction(bin string, env []string, first []byte) (*function, error) {
	api, err := startRuntimeAPI()
	if err != nil {
		return nil, err
	}
	if first != nil {
		api.next <- first
	}
	dir := filepath.Dir(bin)
	cmd := exec.Command(bin)
	cmd.Dir = dir // /var/task
	cmd.Env = append(append(lambdaEnv(dir), "AWS_LAMBDA_RUNTIME_API="+api.addr), env...)
	// One pipe for both, as Lambda's: os/exec copies it into output, which
	// keeps the head for diagnostics and counts the rest.
	out := &sink{}
	cmd.Stdout, cmd.Stderr = out, out
	f := &function{cmd: cmd, api: api, output: out, exited: make(chan struct{})}
	f.exec = time.Now()
	if err := cmd.Start(); err != nil {
		api.close()
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(f.exited)
	}()
	return f, nil
}

// awaitReady waits for the first GET next and returns exec → ready.
func (f *function) awaitReady(timeout time.Duration) (time.Duration, error) {
	select {
	case at := <-f.api.ready:
		return at.Sub(f.exec), nil
	case a := <-f.api.done:
		return 0, fmt.Errorf("answered before asking for an invocation: %s", a.body)
	case <-f.exited:
		return 0, fmt.Errorf("exited before asking for an invocation: %v", f.cmd.ProcessState)
	case <-time.After(timeout):
		return 0, fmt.Errorf("not ready within %v", timeout)
	}
}

// awaitAnswer waits for the answer to the invocation queued by startFunction.
func (f *function) awaitAnswer(timeout time.Duration) (answer, error) {
	select {
	case a := <-f.api.done:
		return a, nil
	case <-f.exited:
		return answer{}, fmt.Errorf("exited without answering: %v", f.cmd.ProcessState)
	case <-time.After(timeout):
		return answer{}, fmt.Errorf("no answer within %v", timeout)
	}
}

// invoke hands event to the function and waits for its answer.
func (f *function) invoke(event []byte, timeout time.Duration) (answer, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f.api.next <- event:
	case <-f.exited:
		return answer{}, fmt.Errorf("exited: %v", f.cmd.ProcessState)
	case <-t.C:
		return answer{}, fmt.Errorf("did not ask for an invocation within %v", timeout)
	}
	select {
	case a := <-f.api.done:
		return a, nil
	case <-f.exited:
		return answer{}, fmt.Errorf("exited without answering: %v", f.cmd.ProcessState)
	case <-t.C:
		return answer{}, fmt.Errorf("did not answer within %v", timeout)
	}
}

// stop kills the process (Lambda freezes, then kills: no shutdown work is
// measured) and its Runtime API. Once stopped, cmd.ProcessState holds its CPU
// time. Stopping twice is harmless.
func (f *function) stop() {
	_ = f.cmd.Process.Kill()
	<-f.exited
	f.api.close()
}

// fail wraps err with the head of what the function wrote.
func (f *function) fail(err error) error {
	return fmt.Errorf("%v; the function wrote:\n%s", err, f.output.head())
}

// memory reads the process's VmHWM (peak resident set) and VmRSS, in bytes.
func (f *function) memory() (hwm, rss int64, err error) {
	file, err := os.Open(fmt.Sprintf("/proc/%d/status", f.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	for s.Scan() {
		name, value, ok := strings.Cut(s.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc status %s: %q", name, value)
		}
		if name == "VmHWM" {
			hwm = kb << 10
		} else {
			rss = kb << 10
		}
	}
	if hwm == 0 || rss == 0 {
		return 0, 0, errors.New("no VmHWM or VmRSS in /proc/PID/status")
	}
	return hwm, rss, s.Err()
}

// sink takes the function's output: it keeps the first headMax bytes, to show
// when something fails, and counts the lines.
type sink struct {
	mu    sync.Mutex
	first []byte
	lines int64
	bytes int64
}

const headMax = 8 << 10

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := headMax - len(s.first); n > 0 {
		s.first = append(s.first, p[:min(n, len(p))]...)
	}
	s.lines += int64(bytes.Count(p, []byte{'\n'}))
	s.bytes += int64(len(p))
	return len(p), nil
}

func (s *sink) head() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.first)
}

func (s *sink) count() (lines, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, s.bytes
}
