package identity

import (
	"context"
	"strings"
	"testing"
)

func TestCognitoProfile(t *testing.T) {
	pool := startAt(t, "/us-east-1_AbCdEf123", nil)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: pool.URL, Profile: "cognito", Audiences: []string{"app-client-1"}})
	access := func(extra map[string]any) map[string]any {
		c := with(pool, map[string]any{"aud": nil, "sub": "u-1", "client_id": "app-client-1", "token_use": "access",
			"scope": "orders/read orders/write", "cognito:groups": []string{"admins"}, "username": "dave",
			"auth_time": 1, "event_id": "e", "origin_jti": "o", "jti": "j", "version": 2})
		for k, val := range extra {
			c[k] = val
		}
		return c
	}
	runProfileCases(t, v, pool, []profileCase{
		{name: "access token: client_id stands for aud", claims: access(nil),
			want: &Token{Issuer: pool.URL, Profile: "cognito", Subject: "u-1", Audience: nil, ClientID: "app-client-1", Name: "dave",
				Scopes: []string{"orders/read", "orders/write"}, Groups: []string{"admins"}, Roles: []string{}}},
		{name: "access token of another app client", claims: access(map[string]any{"client_id": "app-client-2"}), reason: ReasonAudience},
		{name: "access token without client_id", claims: access(map[string]any{"client_id": nil}), reason: ReasonAudience},
		{name: "ID token where an access token is expected", claims: with(pool, map[string]any{"aud": "app-client-1", "sub": "u-1",
			"token_use": "id", "email": "dave@example.com", "cognito:username": "dave"}), reason: ReasonType},
		{name: "no token_use", claims: access(map[string]any{"token_use": nil}), reason: ReasonType},
		{name: "a token_use Cognito does not issue", claims: access(map[string]any{"token_use": "refresh"}), reason: ReasonType},
	})

	withID := newVerifier(t, Options{}, IssuerConfig{Issuer: pool.URL, Profile: "cognito", Audiences: []string{"app-client-1"}, AcceptIDTokens: true})
	runProfileCases(t, withID, pool, []profileCase{
		{name: "ID token when accepted", claims: with(pool, map[string]any{"aud": "app-client-1", "sub": "u-1", "token_use": "id",
			"email": "dave@example.com", "cognito:username": "dave", "cognito:groups": []string{"admins"}}),
			want: &Token{Issuer: pool.URL, Profile: "cognito", Subject: "u-1", Audience: []string{"app-client-1"}, ClientID: "app-client-1",
				Email: "dave@example.com", Name: "dave", Scopes: []string{}, Groups: []string{"admins"}, Roles: []string{}}},
		{name: "ID token for another app client", claims: with(pool, map[string]any{"aud": "app-client-2", "sub": "u-1", "token_use": "id"}), reason: ReasonAudience},
	})
}

// TestCognitoTokenUseIsNotEchoed: the token_use check quoted whatever JSON the
// token carried there, unclipped, into the error and so into the log.
func TestCognitoTokenUseIsNotEchoed(t *testing.T) {
	pool := startAt(t, "/us-east-1_AbCdEf123", nil)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: pool.URL, Profile: "cognito", Audiences: []string{"app-client-1"}})
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name   string
		use    any
		echoes bool // the error may quote a clipped string, never JSON
	}{
		{"an object", map[string]any{"ZZMARKERZZ": long}, false},
		{"a long string", "ZZMARKERZZ" + long, true},
	}
	for _, tt := range tests {
		raw, err := pool.Mint(with(pool, map[string]any{"aud": nil, "sub": "u-1", "client_id": "app-client-1", "token_use": tt.use}), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), raw)
		switch {
		case ReasonOf(err) != ReasonType:
			t.Fatalf("%s: %v, want %s", tt.name, err, ReasonType)
		case len(err.Error()) > 200:
			t.Fatalf("%s: a %d-byte error, not clipped: %.100q", tt.name, len(err.Error()), err)
		case !tt.echoes && strings.Contains(err.Error(), "ZZMARKERZZ"):
			t.Fatalf("%s: the error repeats the claim's JSON: %q", tt.name, err)
		}
	}
}
