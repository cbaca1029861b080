package identity

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/apigw-authz/authz/internal/loopback"
)

// newClient returns the HTTP client for discovery and key sets: every fetch is
// bounded in time and size, and redirects stay on https (or loopback http).
func newClient(timeout time.Duration, maxBytes int64) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{
		Timeout:   timeout,
		Transport: limitedTransport{base: base, max: maxBytes},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("identity: more than 3 redirects")
			}
			if req.URL.Scheme == "https" || (req.URL.Scheme == "http" && loopback.Host(req.URL.Hostname())) {
				return nil
			}
			return fmt.Errorf("identity: refusing a redirect to %s://%s", req.URL.Scheme, req.URL.Host)
		},
	}
}

// errTooLarge ends a response body that exceeds the size cap.
var errTooLarge = errors.New("identity: response body over the size limit")

// limitedTransport caps every response body, so that go-oidc's unbounded reads of
// discovery documents and our key set reads stay bounded.
type limitedTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s announces %d bytes, the limit is %d", errTooLarge, req.URL.Redacted(), resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Read one more byte to tell the end of the body from an overflow.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
