package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// wycheproofDir holds the Project Wycheproof JWS and JWK vectors the test runs,
// copied unchanged with their licence (see its README.md), so that every clone
// runs them: a missing file fails the test.
var wycheproofDir = filepath.Join("testdata", "wycheproof")

type wycheproofFile struct {
	TestGroups []struct {
		Type    string          `json:"type"`
		Comment string          `json:"comment"`
		Private json.RawMessage `json:"private"`
		Public  json.RawMessage `json:"public"`
		Tests   []struct {
			TcID    int             `json:"tcId"`
			Comment string          `json:"comment"`
			JWS     json.RawMessage `json:"jws"`
			Result  string          `json:"result"`
			Flags   []string        `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// refusedValid lists the valid vectors the key-set signature check refuses, and
// why. Each is a deliberate limit of what this authorizer accepts.
var refusedValid = map[string]string{
	"hmac":          "HMAC (HS256/384/512): only asymmetric algorithms are accepted, so symmetric keys are never loaded",
	"key-alg":       "the key names another alg than the token's (RFC 7520 signs PS384 with a key marked PS256): a key is used only with its own alg",
	"key-alg-name":  "the key's alg is not a JOSE algorithm (ES521 for ES512): keys with an unknown alg are ignored",
	"strict-base64": "a character outside base64url in a part: only strict unpadded base64url is read",
}

// TestWycheproof runs the JWS and JWK vectors through the key-set signature check
// (the payloads are not JWT claims, so the claim checks are not involved). No
// invalid vector may verify; every valid vector refused must be one of the
// documented limits above.
func TestWycheproof(t *testing.T) {
	files := []string{"json_web_signature_test.json", "json_web_key_test.json"}
	refused := map[string][]string{}
	var verified, invalid int
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(wycheproofDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var f wycheproofFile
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		for _, g := range f.TestGroups {
			keyJSON := g.Public
			if len(keyJSON) == 0 {
				keyJSON = g.Private
			}
			ks := staticKeySet(t, keyJSON)
			for _, tc := range g.Tests {
				id := fmt.Sprintf("%s/%d", strings.TrimSuffix(name, "_test.json"), tc.TcID)
				var compact string
				jsonForm := json.Unmarshal(tc.JWS, &compact) != nil
				var err error
				if jsonForm {
					_, err = inspect(string(tc.JWS))
				} else {
					_, err = ks.VerifySignature(context.Background(), compact)
				}
				switch {
				case tc.Result == "invalid" && err == nil:
					t.Errorf("%s (%s, %s): an invalid vector verified", id, g.Comment, tc.Comment)
				case tc.Result == "invalid":
					invalid++
				case err == nil:
					verified++
				default:
					why := ""
					if !jsonForm {
						why = classify(compact, keyJSON, err)
					}
					if why == "" {
						t.Errorf("%s (%s, %s): a valid vector was refused for no documented reason: %v", id, g.Comment, tc.Comment, err)
						continue
					}
					refused[why] = append(refused[why], id)
				}
			}
		}
	}
	reasons := make([]string, 0, len(refused))
	for why := range refused {
		reasons = append(reasons, why)
	}
	sort.Strings(reasons)
	t.Logf("verified %d valid vectors, refused %d invalid ones", verified, invalid)
	for _, why := range reasons {
		t.Logf("refused %d valid vectors: %s: %v", len(refused[why]), refusedValid[why], refused[why])
	}
	if verified == 0 {
		t.Fatal("no valid vector verified: the test is not exercising the check")
	}
}

// classify names the documented limit a refused valid vector falls under, or "".
func classify(compact string, keyJSON json.RawMessage, err error) string {
	var header struct {
		Alg string `json:"alg"`
	}
	hb, herr := decodeSegment(strings.Split(compact, ".")[0])
	switch {
	case herr != nil:
		return "strict-base64"
	case json.Unmarshal(hb, &header) == nil && strings.HasPrefix(header.Alg, "HS"):
		return "hmac"
	case strings.Contains(err.Error(), "is not for alg"):
		return "key-alg"
	case strings.Contains(err.Error(), "no key") && strings.Contains(string(keyJSON), `"ES521"`):
		return "key-alg-name"
	}
	return ""
}

// staticKeySet loads a JWK, or a set of them, the way a fetched key set is loaded.
func staticKeySet(t *testing.T, raw json.RawMessage) *keySet {
	t.Helper()
	set := raw
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.Keys == nil {
		set = json.RawMessage(`{"keys":[` + string(raw) + `]}`)
	}
	keys, err := parseKeySet(set)
	if err != nil {
		t.Fatalf("key set: %v", err)
	}
	now := time.Now()
	return &keySet{keys: keys, fetchedAt: now, triedAt: now, cooldown: time.Hour, maxAge: time.Hour, now: time.Now}
}
