package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

type certEnv struct {
	dir, jwksFile, certFile string
	jwks                    []byte
	signer                  *cert.Signer
	token                   string
	payload                 cert.Payload
}

func certPayload() cert.Payload {
	return cert.Payload{
		App:          cert.App{Name: "Sårpleie", Version: "2.1.0", ArtifactDigest: "sha256:" + strings.Repeat("ab", 32)},
		Vendor:       cert.Vendor{OrgNumber: "974760673", Name: "Helseapp Nord AS"},
		Suite:        cert.Suite{ID: "dho-vkp", Version: "1.0.0"},
		RuleSet:      cert.RuleSet{ID: "dho-vkp", Version: "1.2.0", Digest: "sha256:" + strings.Repeat("01", 32)},
		ReportDigest: "sha256:" + strings.Repeat("cd", 32),
	}
}

func newCertEnv(t *testing.T) certEnv {
	t.Helper()
	key, err := cert.NewSigningKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := cert.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	token, p, err := s.Sign(certPayload())
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := cert.NewKeySet(key.Public())
	jwks, _ := ks.MarshalJSON()
	dir := t.TempDir()
	return certEnv{
		dir: dir, jwks: jwks, signer: s, token: token, payload: p,
		jwksFile: writeFile(t, dir, "jwks.json", string(jwks)),
		certFile: writeFile(t, dir, "app.cert", token+"\n"),
	}
}

func TestCertVerifyValid(t *testing.T) {
	e := newCertEnv(t)
	r := runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, want := range []string{
		"Certificate " + e.payload.ID, "Sårpleie 2.1.0", "Helseapp Nord AS (org. no. 974760673)",
		"Suite:       dho-vkp 1.0.0", "Rule set:    dho-vkp 1.2.0 (sha256:0101", "Issued:", "Expires:",
		"Key id:      " + e.payload.KeyID, "not checked", "Verdict: VALID",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	// The same from stdin and as literal text.
	if r := runCLI(t, e.token, "cert", "verify", "-", "--jwks", e.jwksFile); r.code != exitOK {
		t.Errorf("stdin: exit %d %s", r.code, r.err)
	}
	if r := runCLI(t, "", "cert", "verify", "--jwks", e.jwksFile, e.token); r.code != exitOK {
		t.Errorf("literal: exit %d %s", r.code, r.err)
	}
}

func TestCertVerifyInvalid(t *testing.T) {
	e := newCertEnv(t)
	tampered := []byte(e.token)
	tampered[len(tampered)-4] ^= 0x01
	if tampered[len(tampered)-4] == '.' {
		t.Fatal("test picked a separator")
	}
	r := runCLI(t, "", "cert", "verify", string(tampered), "--jwks", e.jwksFile)
	if r.code != exitFindings || (!strings.Contains(r.out, "BAD SIGNATURE") && !strings.Contains(r.out, "MALFORMED")) {
		t.Errorf("tampered: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if strings.Contains(r.out, "Sårpleie") {
		t.Errorf("claims of an unverified certificate were printed:\n%s", r.out)
	}

	// Expired: issued two years ago for one year.
	key, _ := cert.GenerateKey(nil)
	old, _ := cert.NewSigner(key, cert.WithClock(func() time.Time { return time.Now().AddDate(-2, 0, 0) }))
	expired, p, err := old.Sign(certPayload())
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := cert.NewKeySet(key.Public())
	kj, _ := ks.MarshalJSON()
	kf := writeFile(t, e.dir, "old-jwks.json", string(kj))
	r = runCLI(t, "", "cert", "verify", expired, "--jwks", kf)
	if r.code != exitFindings || !strings.Contains(r.out, "Verdict: EXPIRED: expired at "+p.Expires.Format("2006-01-02T15:04:05Z")) {
		t.Errorf("expired: exit %d\n%s%s", r.code, r.out, r.err)
	}
	// Signed with a key the JWKS does not hold.
	r = runCLI(t, "", "cert", "verify", expired, "--jwks", e.jwksFile)
	if r.code != exitFindings || !strings.Contains(r.out, "UNKNOWN KEY") {
		t.Errorf("unknown key: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

func TestCertVerifyRevocationsAndURLs(t *testing.T) {
	e := newCertEnv(t)
	var l cert.RevocationList
	if err := l.Revoke(cert.Revocation{ID: e.payload.ID, RevokedAt: time.Now(), Reason: "artifact digest does not match the shipped app"}); err != nil {
		t.Fatal(err)
	}
	list, err := e.signer.SignRevocations(&l)
	if err != nil {
		t.Fatal(err)
	}
	listFile := writeFile(t, e.dir, "revoked.jws", list)

	r := runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile, "--revocations", listFile)
	if r.code != exitFindings || !strings.Contains(r.out, "Verdict: REVOKED: revoked at ") ||
		!strings.Contains(r.out, "artifact digest does not match") || !strings.Contains(r.out, "checked against the list signed") {
		t.Errorf("revoked: exit %d\n%s%s", r.code, r.out, r.err)
	}

	big := strings.Repeat(" ", cert.MaxKeySetBytes+1)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) { w.Write(e.jwks) })
	mux.HandleFunc("/revocations", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(list)) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(big)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", srv.URL+"/.well-known/jwks.json", "--format", "json", "--revocations", "none")
	var res map[string]any
	if r.code != exitOK || json.Unmarshal([]byte(r.out), &res) != nil || res["status"] != "valid" || res["revocationsChecked"] != false {
		t.Errorf("JWKS by URL, JSON output: exit %d\n%s%s", r.code, r.out, r.err)
	}
	// Online without --revocations: the list beside the key set is
	// consulted, and a missing one stops the run rather than passing.
	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", srv.URL+"/.well-known/jwks.json")
	if r.code != exitUsage || !strings.Contains(r.err, "/.well-known/revocations.jws") || !strings.Contains(r.err, "--revocations none") {
		t.Errorf("default list missing: exit %d\n%s%s", r.code, r.out, r.err)
	}
	mux.HandleFunc("/.well-known/revocations.jws", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(list)) })
	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", srv.URL+"/.well-known/jwks.json")
	if r.code != exitFindings || !strings.Contains(r.out, "Verdict: REVOKED") {
		t.Errorf("default list: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", srv.URL+"/.well-known/jwks.json", "--revocations", srv.URL+"/revocations")
	if r.code != exitFindings || !strings.Contains(r.out, "REVOKED") {
		t.Errorf("revocations by URL: exit %d\n%s%s", r.code, r.out, r.err)
	}

	for name, args := range map[string][]string{
		"no --jwks":               {"verify", e.certFile},
		"missing file":            {"verify", "nope.cert", "--jwks", e.jwksFile},
		"no subcommand":           {e.certFile, "--jwks", e.jwksFile},
		"unknown format":          {"verify", e.certFile, "--jwks", e.jwksFile, "--format", "xml"},
		"JWKS too large":          {"verify", e.certFile, "--jwks", srv.URL + "/big"},
		"JWKS 404":                {"verify", e.certFile, "--jwks", srv.URL + "/missing"},
		"JWKS timeout":            {"verify", e.certFile, "--jwks", srv.URL + "/slow", "--timeout", "200ms"},
		"JWKS over plain http":    {"verify", e.certFile, "--jwks", "http://keys.example.invalid/jwks.json"},
		"JWKS is a cert":          {"verify", e.certFile, "--jwks", e.certFile},
		"revocation list forged":  {"verify", e.certFile, "--jwks", e.jwksFile, "--revocations", writeFile(t, e.dir, "forged.jws", forgeList(list))},
		"revocations not a list":  {"verify", e.certFile, "--jwks", e.jwksFile, "--revocations", e.certFile},
		"revocations unreachable": {"verify", e.certFile, "--jwks", e.jwksFile, "--revocations", srv.URL + "/missing"},
	} {
		r := runCLI(t, "", append([]string{"cert"}, args...)...)
		if r.code != exitUsage || r.err == "" {
			t.Errorf("%s: exit %d, want %d with a message\n%s%s", name, r.code, exitUsage, r.out, r.err)
		}
	}
}

// forgeList swaps the list's payload for an empty one under the same
// signature, as someone un-revoking a certificate would.
func forgeList(list string) string {
	parts := strings.Split(list, ".")
	parts[1] = parts[1][:len(parts[1])-8] + "AAAAAAAA"
	return strings.Join(parts, ".")
}
