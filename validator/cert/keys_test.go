package cert

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	gen, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	custom, _ := NewSigningKey(seedKey(t, 4).sec.priv, "sandkasse-2025-03")
	for _, tc := range []struct {
		name   string
		key    *SigningKey
		format KeyFormat
	}{
		{"generated.pem", gen, PEM},
		{"generated.jwk", gen, JWK},
		{"custom-kid.jwk", custom, JWK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := WriteSigningKey(path, tc.key, tc.format); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			if err := WriteSigningKey(path, tc.key, tc.format); err == nil {
				t.Error("overwrote an existing key file")
			}
			back, err := LoadSigningKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != tc.key.ID() || !back.sec.priv.Equal(tc.key.sec.priv) {
				t.Errorf("loaded key differs: kid %q, want %q", back.ID(), tc.key.ID())
			}
		})
	}
	if err := WriteSigningKey(filepath.Join(dir, "custom.pem"), custom, PEM); err == nil {
		t.Error("PEM silently dropped a custom key id")
	}

	for name, data := range map[string]string{
		"public JWK":      `{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(gen.Public().Key) + `"}`,
		"garbage":         "not a key",
		"public PEM":      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"two PEM blocks":  pemOf(t, gen) + pemOf(t, gen),
		"alg HS256 JWK":   jwkWithAlg(t, gen, "HS256"),
		"truncated JSON ": `{"kty":"OKP"`,
	} {
		if _, err := ParseSigningKey([]byte(data)); err == nil {
			t.Errorf("%s: accepted as a signing key", name)
		}
	}
}

func pemOf(t *testing.T, k *SigningKey) string {
	path := filepath.Join(t.TempDir(), "k.pem")
	if err := WriteSigningKey(path, k, PEM); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	return string(b)
}

func jwkWithAlg(t *testing.T, k *SigningKey, alg string) string {
	path := filepath.Join(t.TempDir(), "k.jwk")
	if err := WriteSigningKey(path, k, JWK); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	return strings.Replace(string(b), `"alg":"EdDSA"`, `"alg":"`+alg+`"`, 1)
}

// TestSigningKeyNeverPrints: every way a key commonly reaches a log shows
// its id and nothing of the private key.
func TestSigningKeyNeverPrints(t *testing.T) {
	k := seedKey(t, 1)
	secret := [][]byte{k.sec.priv.Seed(), []byte(k.sec.priv)}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("signing", "key", k)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("signing", "key", k)
	js, jerr := json.Marshal(struct{ K *SigningKey }{k})
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprintf("%v", *k), fmt.Sprintf("%+v", []*SigningKey{k}),
		fmt.Sprintf("%+v", struct{ k SigningKey }{*k}), fmt.Sprintf("%#v", struct{ k SigningKey }{*k}),
		logged.String(), string(js),
	} {
		for _, enc := range []func([]byte) string{
			func(b []byte) string { return string(b) },
			func(b []byte) string { return fmt.Sprintf("%x", b) },
			func(b []byte) string { return fmt.Sprint(b) },
			func(b []byte) string { return b64.EncodeToString(b) },
			func(b []byte) string { return strings.Trim(fmt.Sprint(b[:8]), "[]") },
		} {
			for _, sec := range secret {
				if strings.Contains(s, enc(sec)) {
					t.Errorf("private key material in %q", s)
				}
			}
		}
	}
	if jerr == nil {
		t.Error("json.Marshal of a signing key succeeded")
	}
	if !strings.Contains(fmt.Sprint(k), k.ID()) {
		t.Errorf("%v does not name the key id", k)
	}
}

func TestJWKS(t *testing.T) {
	a, b := seedKey(t, 1), seedKey(t, 2)
	set, err := NewKeySet(b.Public(), a.Public())
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var std struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(data, &std); err != nil || len(std.Keys) != 2 {
		t.Fatalf("not a standard JWKS: %v %s", err, data)
	}
	for _, k := range std.Keys {
		if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["x"] == "" || k["kid"] == "" || k["d"] != "" {
			t.Errorf("JWKS member %v", k)
		}
	}
	var back KeySet
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.IDs(); len(got) != 2 || got[0] > got[1] {
		t.Errorf("ids %v, want two in order", got)
	}
	if data2, _ := json.Marshal(&back); !bytes.Equal(data, data2) {
		t.Errorf("JWKS does not round-trip:\n%s\n%s", data, data2)
	}
	if err := set.Add(a.Public()); err == nil {
		t.Error("duplicate kid accepted")
	}

	privJWK := jwkWithAlg(t, a, "EdDSA")
	pub := `{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(a.Public().Key) + `"`
	for name, data := range map[string]string{
		"private key":    `{"keys":[` + privJWK + `]}`,
		"no kid":         `{"keys":[` + pub + `}]}`,
		"alg HS256":      `{"keys":[` + pub + `,"kid":"a","alg":"HS256"}]}`,
		"use enc":        `{"keys":[` + pub + `,"kid":"a","use":"enc"}]}`,
		"symmetric key":  `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"}]}`,
		"duplicate kids": `{"keys":[` + pub + `,"kid":"a"},` + pub + `,"kid":"a"}]}`,
		"no keys array":  `{"key":[]}`,
		"not JSON":       `keys`,
		"too large":      `{"keys":[]}` + strings.Repeat(" ", MaxKeySetBytes),
	} {
		if _, err := ParseKeySet([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), b64.EncodeToString(a.sec.priv.Seed())) {
			t.Errorf("%s: error quotes the private key", name)
		}
	}
	if s, err := ParseKeySet([]byte(`{"keys":[]}`)); err != nil || s.Len() != 0 {
		t.Errorf("empty JWKS: %v", err)
	}
	if _, err := NewKeySet(PublicKey{ID: "x", Key: ed25519.PublicKey{1, 2}}); err == nil {
		t.Error("short public key accepted")
	}
}
