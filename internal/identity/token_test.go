package identity

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestStringList(t *testing.T) {
	tests := []struct {
		name  string
		v     any
		split string
		want  []string
	}{
		{"array of strings", []any{"a", "b"}, "", []string{"a", "b"}},
		{"array with numbers, duplicates, blanks and junk", []any{"a", json.Number("7"), "a", " ", true, nil, map[string]any{}}, "", []string{"a", "7"}},
		{"single string is one value when not split", "Domain Admins", "", []string{"Domain Admins"}},
		{"a comma in a group name stays", "CN=Admins,OU=Groups", "", []string{"CN=Admins,OU=Groups"}},
		{"space-separated scopes", "read write  admin", " ,", []string{"read", "write", "admin"}},
		{"comma-separated scopes", "read,write, admin", " ,", []string{"read", "write", "admin"}},
		{"number", json.Number("42"), "", []string{"42"}},
		{"boolean is no name", true, "", []string{}},
		{"object is no name", map[string]any{"a": "b"}, "", []string{}},
		{"empty string", "", " ,", []string{}},
		{"arrays are never split", []any{"a b"}, " ,", []string{"a b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stringList(tt.v, tt.split); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("stringList(%#v, %q) = %#v, want %#v", tt.v, tt.split, got, tt.want)
			}
		})
	}
}

func TestNormaliseWithOverrides(t *testing.T) {
	p := profiles["generic"]
	names := p.claimNames(map[string]ClaimNames{"groups": {"group"}, "roles": {"role", "roles"}, "subject": {"oid"}})
	tok := &Token{Claims: map[string]any{
		"sub":    "ignored-because-overridden",
		"oid":    "object-1",
		"groups": []any{"not-read"},
		"group":  "Domain Users",
		"roles":  []any{"second-choice"},
		"scp":    "a b",
		"cid":    "client-9",
		"email":  json.Number("1"), // a number is text too
		"name":   true,             // a boolean is not
	}}
	tok.normalise(names, p.split)
	want := Token{Subject: "object-1", ClientID: "client-9", Email: "1", Scopes: []string{"a", "b"},
		Groups: []string{"Domain Users"}, Roles: []string{"second-choice"}}
	tok.Claims = nil
	if !reflect.DeepEqual(*tok, want) {
		t.Fatalf("normalised\n %+v\nwant\n %+v", *tok, want)
	}
	doc := (&Token{}).Document()
	for _, k := range []string{"scopes", "groups", "roles", "audience"} {
		if v, ok := doc[k].([]string); !ok || v == nil {
			t.Errorf("document %s = %#v, want an empty array", k, doc[k])
		}
	}
}

func TestUnverifiedClaimsUseTheIssuersProfile(t *testing.T) {
	v, err := New([]IssuerConfig{{Issuer: "https://login.microsoftonline.com/{tenantid}/v2.0", Profile: "entra",
		Audiences: []string{"a"}, Tenants: []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok := v.Unverified(map[string]any{"iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
		"oid": "o", "sub": "s", "scp": "a b", "exp": json.Number("2000000000")})
	if tok.Profile != "entra" || tok.Subject != "o" || !reflect.DeepEqual(tok.Scopes, []string{"a", "b"}) || tok.ExpiresAt != 2000000000 {
		t.Fatalf("entra claims: %+v", tok)
	}
	// A tenant the issuer does not list selects no issuer, as in Verify.
	for _, iss := range []string{"https://login.microsoftonline.com/0d5e8a3c-1111-4222-8333-944455556666/v2.0", "https://other"} {
		tok = v.Unverified(map[string]any{"iss": iss, "sub": "s", "scope": "x"})
		if tok.Profile != "generic" || tok.Subject != "s" || tok.Scopes[0] != "x" {
			t.Fatalf("%s: %+v", iss, tok)
		}
	}
}
