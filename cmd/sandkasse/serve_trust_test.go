package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/certstore"
)

// startServe runs `sandkasse serve` with args and returns its address.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...), stdio{in: strings.NewReader(""), out: &logs, err: &logs})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		for _, line := range strings.Split(logs.String(), "\n") {
			var e struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "listening" {
				return e.Addr
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d:\n%s", code, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line:\n%s", logs.String())
	return ""
}

// The whole chain: a certificate issued by the CLI verifies against the
// key set the server publishes, online verification consults the served
// revocation list, and after staff revoke it over the admin API the same
// command reports it revoked.
func TestServedTrustChain(t *testing.T) {
	reg, key, _, certFile := registryWithCert(t)
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	const admin = "admin-token-0123456789abcdef"
	os.WriteFile(tokenFile, []byte(admin+"\n"), 0o600)
	addr := startServe(t, "--registry", reg, "--signing-key", key, "--admin-token-file", tokenFile)
	jwks := "http://" + addr + "/.well-known/jwks.json"

	code, out, errs := runRulesCmd("cert", "verify", certFile, "--jwks", jwks)
	if code != exitOK || !strings.Contains(out, "Verdict: VALID") || !strings.Contains(out, ": not revoked") {
		t.Fatalf("online verify: exit %d\n%s%s", code, out, errs)
	}
	ents, _ := os.ReadDir(filepath.Join(reg, certstore.CertificatesDir))
	id := ents[0].Name()
	req, _ := http.NewRequest("POST", "http://"+addr+"/admin/certificates/"+id+"/revoke", strings.NewReader(`{"reason":"the vendor shipped another build"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke over the API: %d", resp.StatusCode)
	}
	code, out, errs = runRulesCmd("cert", "verify", certFile, "--jwks", jwks)
	if code != exitFindings || !strings.Contains(out, "Verdict: REVOKED") || !strings.Contains(out, "the vendor shipped another build") {
		t.Errorf("after revocation: exit %d\n%s%s", code, out, errs)
	}
	// Offline, the same certificate still reads as valid, and the output
	// says revocation was not checked.
	code, out, _ = runRulesCmd("cert", "verify", certFile, "--jwks", jwks, "--revocations", "none")
	if code != exitOK || !strings.Contains(out, "not checked") {
		t.Errorf("without the list: exit %d\n%s", code, out)
	}
}

func TestServeTrustFlags(t *testing.T) {
	reg, _, _, _ := registryWithCert(t)
	other, _ := keygen(t)
	for name, args := range map[string][]string{
		"key without registry":  {"--signing-key", other},
		"key not in key set":    {"--registry", reg, "--signing-key", other},
		"registry without keys": {"--registry", t.TempDir()},
	} {
		code, _, errs := runRulesCmd(append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
		if code != exitUsage || errs == "" {
			t.Errorf("%s: exit %d %s", name, code, errs)
		}
	}
}
