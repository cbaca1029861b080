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
		{name: "duplicate issuer", in: `[{"issuer":"https://x","audiences":["a"]},{"issuer":"https://x","audiences":["b"]}]`, wantErr: "entry 1: issuer \"https://x\" is already taken by entry 0"},
		{name: "access token issuer taken by another entry", in: `[{"issuer":"https://x","audiences":["a"]},{"issuer":"https://fs/adfs","profile":"adfs","audiences":["b"],"access_token_issuer":"https://x"}]`, wantErr: "already taken by entry 0"},
		{name: "access token issuer may be http: it is never fetched", in: `[{"issuer":"https://fs.example.com/adfs","profile":"adfs","audiences":["b"],"access_token_issuer":"http://fs.example.com/adfs/services/trust"}]`,
			want: []IssuerConfig{{Issuer: "https://fs.example.com/adfs", Profile: "adfs", Audiences: []string{"b"}, AccessTokenIssuer: "http://fs.example.com/adfs/services/trust", Algorithms: []string{"RS256", "ES256", "PS256"}}}},
		{name: "access token issuer not a URL", in: `[{"issuer":"https://fs/adfs","profile":"adfs","audiences":["b"],"access_token_issuer":"trust"}]`, wantErr: `field "access_token_issuer"`},
		{name: "entra template", in: `[{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","profile":"entra","audiences":["api://x"],"tenants":["72F988BF-86F1-41AF-91AB-2D7CD011DB47"]}]`,
			want: []IssuerConfig{{Issuer: "https://login.microsoftonline.com/{tenantid}/v2.0", Profile: "entra", Audiences: []string{"api://x"},
				Tenants: []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"}, Algorithms: []string{"RS256", "ES256", "PS256"}}}},
		{name: "template without tenants", in: `[{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","profile":"entra","audiences":["a"]}]`, wantErr: `field "tenants": required`},
		{name: "tenant not a GUID", in: `[{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","profile":"entra","audiences":["a"],"tenants":["contoso"]}]`, wantErr: `"contoso" is not a tenant id`},
		{name: "two placeholders", in: `[{"issuer":"https://{tenantid}.example.com/{tenantid}","profile":"entra","audiences":["a"],"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]}]`, wantErr: "the only placeholder"},
		{name: "other placeholder", in: `[{"issuer":"https://login.example.com/{tenant}","profile":"entra","audiences":["a"],"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]}]`, wantErr: "the only placeholder"},
		{name: "template off Microsoft's hosts needs jwks_uri", in: `[{"issuer":"https://login.example.com/{tenantid}/v2.0","profile":"entra","audiences":["a"],"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]}]`, wantErr: `field "jwks_uri": required`},
		{name: "okta org server", in: `[{"issuer":"https://dev-1.okta.com","profile":"okta","audiences":["a"]}]`, wantErr: "Okta's org authorization server"},
		{name: "empty client", in: `[{"issuer":"https://x","audiences":["a"],"clients":[""]}]`, wantErr: `field "clients"`},
		{name: "leeway too large", in: `[{"issuer":"https://x","audiences":["a"],"leeway_seconds":3600}]`, wantErr: `field "leeway_seconds"`},
		{name: "negative lifetime", in: `[{"issuer":"https://x","audiences":["a"],"max_lifetime_seconds":-1}]`, wantErr: `field "max_lifetime_seconds"`},
		{name: "split of a scalar field", in: `[{"issuer":"https://x","audiences":["a"],"split":{"subject":","}}]`, wantErr: `field "split": "subject"`},
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
