package identity

import (
	"context"
	"reflect"
	"testing"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// startAt runs a dev issuer whose URL ends in path, with extra discovery fields.
func startAt(t *testing.T, path string, discovery map[string]any) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{Path: path, Discovery: discovery})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

// profileCase is a provider-shaped token and what it must normalise to, or the
// reason it must be refused for.
type profileCase struct {
	name   string
	claims map[string]any
	header map[string]any
	want   *Token // the named fields; Claims and times are not compared
	reason string
}

func runProfileCases(t *testing.T, v *Verifier, iss *devissuer.Issuer, cases []profileCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := iss.Mint(tc.claims, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := v.Verify(context.Background(), raw)
			if tc.reason != "" {
				if ReasonOf(err) != tc.reason {
					t.Fatalf("got %+v, %v; want refusal %s", tok, err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			got := *tok
			got.Claims, got.ExpiresAt, got.IssuedAt = nil, 0, 0
			if !reflect.DeepEqual(&got, tc.want) {
				t.Fatalf("normalised\n got %+v\nwant %+v", &got, tc.want)
			}
		})
	}
}

// with returns the issuer's registered claims plus extra.
func with(iss *devissuer.Issuer, extra map[string]any) map[string]any {
	c := iss.Claims("")
	delete(c, "sub")
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}
