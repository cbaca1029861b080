package gateway

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseARN(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ARN
		wantErr string
	}{
		{
			name: "rest method with path",
			in:   "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/42",
			want: ARN{Partition: "aws", Region: "eu-west-1", AccountID: "123456789012", APIID: "abc123", Stage: "prod", Method: "GET", Path: "/orders/42"},
		},
		{
			name: "root path",
			in:   "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/",
			want: ARN{Partition: "aws", Region: "us-west-2", AccountID: "123456789012", APIID: "ymy8tbxw7b", Stage: "*", Method: "GET", Path: "/"},
		},
		{
			// Its path is the text after the verb, as IAM reads it: "", not "/"
			// (FuzzRegoVsIAM found that the policy then judged another path).
			name: "verb without path has an empty path",
			in:   "arn:aws:execute-api:us-west-2:123456789012:api/stage/POST",
			want: ARN{Partition: "aws", Region: "us-west-2", AccountID: "123456789012", APIID: "api", Stage: "stage", Method: "POST", Path: ""},
		},
		{
			name: "websocket route key",
			in:   "arn:aws:execute-api:eu-west-1:123456789012:ws7api9xyz/prod/$connect",
			want: ARN{Partition: "aws", Region: "eu-west-1", AccountID: "123456789012", APIID: "ws7api9xyz", Stage: "prod", Path: "$connect"},
		},
		{
			name: "path with colons and encoded characters",
			in:   "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/urn:acme:42/items%2F7",
			want: ARN{Partition: "aws", Region: "eu-west-1", AccountID: "123456789012", APIID: "abc123", Stage: "prod", Method: "GET", Path: "/orders/urn:acme:42/items%2F7"},
		},
		{
			name: "other partition",
			in:   "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:a/b/PUT/x",
			want: ARN{Partition: "aws-us-gov", Region: "us-gov-west-1", AccountID: "123456789012", APIID: "a", Stage: "b", Method: "PUT", Path: "/x"},
		},
		{name: "empty", in: "", wantErr: "no method ARN"},
		{name: "not an arn", in: "hello", wantErr: "not an execute-api ARN"},
		{name: "other service", in: "arn:aws:lambda:eu-west-1:123456789012:function/x/y", wantErr: "not an execute-api ARN"},
		{name: "no region", in: "arn:aws:execute-api::123456789012:a/b/GET/x", wantErr: "lacks a partition, region or account"},
		{name: "no stage", in: "arn:aws:execute-api:eu-west-1:123456789012:a", wantErr: "lacks an API id, stage or verb"},
		{name: "empty verb", in: "arn:aws:execute-api:eu-west-1:123456789012:a/b//x", wantErr: "lacks an API id, stage or verb"},
		{name: "control character", in: "arn:aws:execute-api:eu-west-1:123456789012:a/b/GET/x\ny", wantErr: "control character"},
		{name: "a verb that is no verb", in: `arn:aws:execute-api:eu-west-1:123456789012:a/b/GET\`, wantErr: "not an HTTP method"},
		{name: "a verb with a dot", in: "arn:aws:execute-api:eu-west-1:123456789012:a/b/../x", wantErr: "not an HTTP method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseARN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseARN(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseARN(%q): %v", tt.in, err)
			}
			tt.want.raw = tt.in
			if got != tt.want {
				t.Fatalf("ParseARN(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.in {
				t.Fatalf("String() = %q, want the ARN as sent", got.String())
			}
		})
	}
}

func TestARNResources(t *testing.T) {
	rest, _ := ParseARN("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/42")
	ws, _ := ParseARN("arn:aws:execute-api:eu-west-1:123456789012:ws/prod/$connect")
	const r = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"
	const w = "arn:aws:execute-api:eu-west-1:123456789012:ws/prod/"
	every := func(path string) []string {
		out := []string{}
		for _, v := range []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"} {
			out = append(out, r+v+path)
		}
		return out
	}
	tests := []struct {
		arn          ARN
		method, path string
		want         []string
	}{
		{rest, "GET", "/orders/*", []string{r + "GET/orders/*"}},
		{rest, "GET", "/", []string{r + "GET/"}},
		// A method of * is one ARN per verb: "*/profile" would match any path
		// ending in /profile.
		{rest, "*", "/profile", every("/profile")},
		{rest, "*", "/orders/*", every("/orders/*")},
		// A pattern starting with * follows the verb directly, as the path does.
		{rest, "GET", "*", []string{r + "GET*"}},
		{rest, "GET", "*/admin", []string{r + "GET*/admin"}},
		{rest, "*", "*", every("*")},
		// A WebSocket route key on a REST API covers nothing.
		{rest, "*", "$connect", nil},
		{ws, "*", "$connect", []string{w + "$connect"}},
		{ws, "GET", "$connect", nil}, // a WebSocket request has no verb to match
		{ws, "*", "*", []string{w + "*"}},
		// A REST path on a WebSocket API covers nothing.
		{ws, "GET", "/orders/*", nil},
	}
	for _, tt := range tests {
		if got := tt.arn.Resources(tt.method, tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Resources(%q, %q) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestDenyResourceFitsAndCovers(t *testing.T) {
	base := "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/"
	for _, n := range []int{10, MaxResourceLength - len(base), MaxResourceLength - len(base) + 1, 2000} {
		// A multi-byte character straddling the cut must not be split.
		arn := base + strings.Repeat("é", n/2) + strings.Repeat("a", n%2)
		got := denyResource(arn)
		if len(got) > MaxResourceLength {
			t.Fatalf("denyResource of %d bytes gave %d bytes, over the limit", len(arn), len(got))
		}
		if !strings.HasPrefix(arn, strings.TrimSuffix(got, "*")) {
			t.Fatalf("denyResource(%d bytes) = %q is not a prefix of the ARN", len(arn), got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("denyResource split a UTF-8 sequence: %q", got)
		}
		if !wildcardMatch(got, arn) {
			t.Fatalf("denyResource(%d bytes) does not cover the ARN it denies", len(arn))
		}
	}
}
