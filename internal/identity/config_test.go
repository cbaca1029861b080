package identity

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseIssuers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []IssuerConfig
		wantErr string
	}{
		{
			name: "minimal entry gets the defaults",
			in:   `[{"issuer":"https://dev-123.okta.com/oauth2/default","audiences":["api://default"]}]`,
			want: []IssuerConfig{{Issuer: "https://dev-123.okta.com/oauth2/default", Audiences: []string{"api://default"},
				Profile: "generic", Algorithms: []string{"RS256", "ES256", "PS256"}}},
		},
		{
			name: "every field",
			in: `[{"issuer":"http://127.0.0.1:9000","audiences":["a","b"],"profile":"generic","jwks_uri":"http://localhost:9000/keys",
				"algorithms":["ES384"],"claims":{"groups":"group","roles":["role","roles"]}}]`,
			want: []IssuerConfig{{Issuer: "http://127.0.0.1:9000", Audiences: []string{"a", "b"}, Profile: "generic",
				JWKSURI: "http://localhost:9000/keys", Algorithms: []string{"ES384"},
				Claims: map[string]ClaimNames{"groups": {"group"}, "roles": {"role", "roles"}}}},
		},
		{name: "not JSON", in: `{`, wantErr: "not a JSON array"},
		{name: "an object, not an array", in: `{"issuer":"https://x"}`, wantErr: "not a JSON array"},
		{name: "empty", in: `[]`, wantErr: "at least one entry"},
		{name: "unknown field", in: `[{"issuer":"https://x","audience":["a"]}]`, wantErr: `entry 0: json: unknown field "audience"`},
		{name: "missing issuer", in: `[{"audiences":["a"]}]`, wantErr: `field "issuer": required`},
		{name: "missing audiences", in: `[{"issuer":"https://x"}]`, wantErr: `field "audiences": required`},
		{name: "empty audience", in: `[{"issuer":"https://x","audiences":[""]}]`, wantErr: `field "audiences": an empty audience`},
		{name: "http issuer off loopback", in: `[{"issuer":"http://idp.example.com","audiences":["a"]}]`, wantErr: "http is only allowed for loopback"},
		{name: "http jwks_uri off loopback", in: `[{"issuer":"https://x","audiences":["a"],"jwks_uri":"http://10.0.0.1/keys"}]`, wantErr: `field "jwks_uri"`},
		{name: "other scheme", in: `[{"issuer":"ftp://x","audiences":["a"]}]`, wantErr: "scheme must be https"},
		{name: "issuer with a query", in: `[{"issuer":"https://x/?a=b","audiences":["a"]}]`, wantErr: "query"},
		{name: "unknown profile", in: `[{"issuer":"https://x","audiences":["a"],"profile":"keycloak"}]`, wantErr: `field "profile": "keycloak" is not one of`},
		{name: "symmetric algorithm", in: `[{"issuer":"https://x","audiences":["a"],"algorithms":["HS256"]}]`, wantErr: `"HS256" is not accepted`},
		{name: "none algorithm", in: `[{"issuer":"https://x","audiences":["a"],"algorithms":["none"]}]`, wantErr: `"none" is not accepted`},
		{name: "template without a profile that takes one", in: `[{"issuer":"https://login.example.com/{tenantid}/v2.0","audiences":["a"]}]`, wantErr: "does not take {placeholders}"},
		{name: "unknown claims field", in: `[{"issuer":"https://x","audiences":["a"],"claims":{"group":"g"}}]`, wantErr: `field "claims": "group" is not one of`},
		{name: "claims name not a string", in: `[{"issuer":"https://x","audiences":["a"],"claims":{"groups":7}}]`, wantErr: "a claim name must be a string"},
		{name: "duplicate issuer", in: `[{"issuer":"https://x","audiences":["a"]},{"issuer":"https://x","audiences":["b"]}]`, wantErr: "entry 1: issuer \"https://x\" is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIssuers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseIssuers error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseIssuers =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestParseSources(t *testing.T) {
	got, err := ParseSources("header:X-Token, cookie:id_token,query:access_token")
	if err != nil {
		t.Fatal(err)
	}
	want := Sources{{"header", "x-token"}, {"cookie", "id_token"}, {"query", "access_token"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got.String() != "header:x-token,cookie:id_token,query:access_token" {
		t.Fatalf("String() = %q", got.String())
	}
	for _, bad := range []string{"", "authorization", "header:", "body:token", "header:a,,cookie:b"} {
		if _, err := ParseSources(bad); err == nil {
			t.Errorf("ParseSources(%q) accepted", bad)
		}
	}
}
