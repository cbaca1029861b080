package delivery

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/plugins/rest"

	"github.com/apigw-authz/authz/internal/logging"
)

// TestServiceClientsStayOnHTTPS: OPA's client follows redirects anywhere; the
// services' clients refuse one off https (loopback http aside).
func TestServiceClientsStayOnHTTPS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://policies.example.com/b.tar.gz", http.StatusFound)
	}))
	defer srv.Close()
	base, err := rest.New([]byte(`{"url":"`+srv.URL+`"}`), nil) // a config as the manager builds one
	if err != nil {
		t.Fatal(err)
	}
	client, err := (&limitsPlugin{credentials: []byte("null")}).NewClient(*base.Config())
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Get(srv.URL + "/b.tar.gz")
	if err == nil || !strings.Contains(err.Error(), "refusing a redirect to http://policies.example.com") {
		t.Fatalf("followed a redirect off https: %v", err)
	}
}

// TestOPALogsNoHeaderValues: OPA logs the headers of the requests it sends at
// debug level, masking only Authorization and the AWS session token.
func TestOPALogsNoHeaderValues(t *testing.T) {
	var buf bytes.Buffer
	l := newOPALogger(logging.JSON(&buf, slog.LevelDebug))
	l.WithFields(map[string]any{"headers": http.Header{"X-Api-Key": {"SECRET-API-KEY"}}, "url": "https://h/b"}).Debug("Sending request.")
	l.WithFields(map[string]any{"headers": map[string]string{"X-Api-Key": "SECRET-API-KEY"}}).Debug("Sending request.")
	if line := buf.String(); strings.Contains(line, "SECRET") || strings.Count(line, "X-Api-Key") != 2 {
		t.Fatalf("log: %s", line)
	}
}
