package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// runtimeAPI is a Lambda Runtime API on 127.0.0.1, as much of it as
// aws-lambda-go's client uses without extensions: GET next hands out the events
// queued on next, one at a time, and POST response or error reports on done.
// Like Lambda, it hands out an invocation only when the function asks, and the
// function asks for the next only after answering the last.
type runtimeAPI struct {
	addr string
	srv  *http.Server

	// next holds the events to hand out; queue one before starting the
	// function to measure exec → first response.
	next chan []byte
	// done receives each answer, response or error, as it arrives.
	done chan answer
	// ready is when the first GET next arrived: the function is initialised.
	ready     chan time.Time
	readyOnce atomic.Bool
	serial    atomic.Int64
}

// answer is the function's answer to one invocation.
type answer struct {
	at    time.Time
	body  []byte
	error bool
}

func startRuntimeAPI() (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &runtimeAPI{
		addr:  ln.Addr().String(),
		next:  make(chan []byte, 1),
		done:  make(chan answer, 1),
		ready: make(chan time.Time, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.serveNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.serveAnswer(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.serveAnswer(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.done <- answer{at: time.Now(), body: append([]byte("init error: "), body...), error: true}
	})
	r.srv = &http.Server{Handler: mux}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *runtimeAPI) close() { r.srv.Close() }

func (r *runtimeAPI) serveNext(w http.ResponseWriter, req *http.Request) {
	if r.readyOnce.CompareAndSwap(false, true) {
		r.ready <- time.Now()
	}
	select {
	case event := <-r.next:
		id := r.serial.Add(1)
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", "bench-"+strconv.FormatInt(id, 10))
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(10*time.Second).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:authorizer")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(event)
	case <-req.Context().Done():
	}
}

func (r *runtimeAPI) serveAnswer(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.done <- answer{at: at, body: body, error: isError}
	}
}
