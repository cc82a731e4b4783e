package cert

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// joseDir finds an install of the npm package jose for testdata/josecheck:
// $SANDKASSE_JOSE_DIR, then testdata/josecheck itself (npm install there),
// then the developers' scratch install.
func joseDir() string {
	for _, d := range []string{os.Getenv("SANDKASSE_JOSE_DIR"), "testdata/josecheck", "/work/scratch/josecheck"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "node_modules", "jose", "package.json")); err == nil {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	return ""
}

// TestJoseVerifies has an independent JOSE implementation (panva/jose on
// Node) verify our certificate against our published JWKS, and refuse a
// changed one and a stranger's. Without node or the package it skips, unless
// SANDKASSE_REQUIRE_JOSE=1 (CI) makes that a failure.
func TestJoseVerifies(t *testing.T) {
	missing := func(what string) {
		msg := what + "; install with: npm install --prefix validator/cert/testdata/josecheck " +
			"(or set SANDKASSE_JOSE_DIR to a directory with node_modules/jose)"
		if os.Getenv("SANDKASSE_REQUIRE_JOSE") == "1" {
			t.Fatal(msg)
		}
		t.Skip("independent JOSE check skipped: " + msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	dir := joseDir()
	if dir == "" {
		missing("the npm package jose is not installed")
	}

	f := newFixture(t)
	tmp := t.TempDir()
	jwks, _ := f.keys.MarshalJSON()
	jwksFile := filepath.Join(tmp, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o644); err != nil {
		t.Fatal(err)
	}
	// One node process for all cases: starting node dominates the cost.
	run := func(certs ...string) ([]string, int) {
		t.Helper()
		args := []string{"testdata/josecheck/check.mjs", jwksFile}
		for i, c := range certs {
			name := filepath.Join(tmp, "cert"+itoa(i)+".jws")
			if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, name)
		}
		cmd := exec.Command(node, args...)
		cmd.Env = append(os.Environ(), "JOSE_DIR="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("node: %v", err)
		}
		if code == 2 {
			t.Fatalf("check.mjs could not run: %s", stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(certs) {
			t.Fatalf("check.mjs printed %d lines for %d certificates:\n%s%s", len(lines), len(certs), out, stderr.String())
		}
		return lines, code
	}

	b := []byte(f.cert)
	b[len(b)-5] = alphabet[(strings.IndexByte(alphabet, b[len(b)-5])+1)%64]
	stranger, _ := NewSigner(seedKey(t, 3))
	sc, _, _ := stranger.Sign(samplePayload())
	lines, code := run(f.cert, string(b), sc)
	if code != 1 {
		t.Errorf("exit %d, want 1 (two of three certificates are bad)", code)
	}
	out := lines[0]
	if strings.HasPrefix(out, "ERR") {
		t.Fatalf("jose refuses our certificate: %s", out)
	}
	var got struct {
		Header  map[string]string `json:"header"`
		Payload json.RawMessage   `json:"payload"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Header["alg"] != "EdDSA" || got.Header["kid"] != f.key.ID() || got.Header["typ"] != CertificateType {
		t.Errorf("header seen by jose: %v", got.Header)
	}
	// JSON.stringify of a parsed object keeps member order, so jose's view
	// of the payload is byte-equal to the canonical form when they agree.
	canon, _ := f.signed.Canonical()
	if !bytes.Equal(got.Payload, canon) {
		t.Errorf("payload seen by jose\n got %s\nwant %s", got.Payload, canon)
	}

	if lines[1] != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
		t.Errorf("jose on a changed signature: %s", lines[1])
	}
	if lines[2] != "ERR_JWKS_NO_MATCHING_KEY" {
		t.Errorf("jose on a stranger's certificate: %s", lines[2])
	}
}
