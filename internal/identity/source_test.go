package identity

import (
	"reflect"
	"testing"
)

func TestSourcesTake(t *testing.T) {
	all := Sources{{"header", "authorization"}, {"cookie", "id_token"}, {"query", "token"}}
	tests := []struct {
		name                    string
		sources                 Sources
		headers, cookies, query map[string]string
		want                    string
		wantReason              string
		// what must be left for the policy
		leftHeaders, leftCookies, leftQuery map[string]string
	}{
		{
			name:    "bearer header",
			sources: DefaultSources,
			headers: map[string]string{"authorization": "Bearer abc.def.ghi", "accept": "*/*"},
			want:    "abc.def.ghi", leftHeaders: map[string]string{"accept": "*/*"},
		},
		{
			name:    "scheme in any case, extra spaces",
			sources: DefaultSources,
			headers: map[string]string{"authorization": "  bEaReR   abc.def.ghi "},
			want:    "abc.def.ghi", leftHeaders: map[string]string{},
		},
		{
			name:    "a bare token in a header",
			sources: Sources{{"header", "x-id-token"}},
			headers: map[string]string{"x-id-token": "abc.def.ghi"},
			want:    "abc.def.ghi", leftHeaders: map[string]string{},
		},
		{
			name:       "Basic is refused, and still removed",
			sources:    DefaultSources,
			headers:    map[string]string{"authorization": "Basic dXNlcjpwYXNz"},
			wantReason: ReasonScheme, leftHeaders: map[string]string{},
		},
		{
			name:       "Bearer without a token",
			sources:    DefaultSources,
			headers:    map[string]string{"authorization": "Bearer  "},
			wantReason: ReasonMalformed, leftHeaders: map[string]string{},
		},
		{
			name:        "first present wins; every source is removed",
			sources:     all,
			headers:     map[string]string{"cookie": "id_token=c.c.c; theme=dark"},
			cookies:     map[string]string{"id_token": "c.c.c", "theme": "dark"},
			query:       map[string]string{"token": "q.q.q", "page": "2"},
			want:        "c.c.c",
			leftHeaders: map[string]string{}, leftCookies: map[string]string{"theme": "dark"}, leftQuery: map[string]string{"page": "2"},
		},
		{
			name:       "an empty header is a blank token, not an absent one",
			sources:    all,
			headers:    map[string]string{"authorization": ""},
			query:      map[string]string{"token": "q.q.q"},
			wantReason: ReasonMalformed, leftHeaders: map[string]string{}, leftQuery: map[string]string{},
		},
		{
			name:       "a white-space header is a blank token",
			sources:    DefaultSources,
			headers:    map[string]string{"authorization": " \t "},
			wantReason: ReasonMalformed, leftHeaders: map[string]string{},
		},
		{
			name:       "a blank cookie is a blank token",
			sources:    Sources{{"cookie", "id_token"}},
			headers:    map[string]string{"cookie": "id_token= ; theme=dark"},
			cookies:    map[string]string{"id_token": " ", "theme": "dark"},
			wantReason: ReasonMalformed, leftHeaders: map[string]string{}, leftCookies: map[string]string{"theme": "dark"},
		},
		{
			name:       "an empty query parameter is a blank token",
			sources:    Sources{{"query", "access_token"}},
			query:      map[string]string{"access_token": "", "page": "2"},
			wantReason: ReasonMalformed, leftQuery: map[string]string{"page": "2"},
		},
		{
			name:    "nothing present",
			sources: all,
			headers: map[string]string{"accept": "*/*"},
			want:    "", leftHeaders: map[string]string{"accept": "*/*"},
		},
	}
	orEmpty := func(m map[string]string) map[string]string {
		if m == nil {
			return map[string]string{}
		}
		return m
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c, q := orEmpty(tt.headers), orEmpty(tt.cookies), orEmpty(tt.query)
			got, err := tt.sources.Take(h, c, q)
			if tt.wantReason != "" {
				if ReasonOf(err) != tt.wantReason || got != "" {
					t.Fatalf("Take = %q, %v; want no token and reason %s", got, err, tt.wantReason)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("Take = %q, %v; want %q", got, err, tt.want)
			}
			for name, pair := range map[string][2]map[string]string{"headers": {h, orEmpty(tt.leftHeaders)},
				"cookies": {c, orEmpty(tt.leftCookies)}, "query": {q, orEmpty(tt.leftQuery)}} {
				if !reflect.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s left for the policy = %v, want %v", name, pair[0], pair[1])
				}
			}
		})
	}
}

func TestFromAuthorizationNeverEchoesASecret(t *testing.T) {
	_, err := FromAuthorization("s3cr3t-p4ssw0rd-not-a-scheme anything")
	if err == nil {
		t.Fatal("an unknown scheme was accepted")
	}
	if got := err.Error(); containsAny(got, "s3cr3t", "anything") {
		t.Fatalf("error %q repeats the credential", got)
	}
	_, err = FromAuthorization("Basic dXNlcjpwYXNz")
	if got := err.Error(); containsAny(got, "dXNlcjpwYXNz") || !containsAny(got, `"Basic"`) {
		t.Fatalf("error %q should name the scheme and not the credentials", got)
	}
}
