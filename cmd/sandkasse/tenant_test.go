package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestTenantCreateListReset(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"tenant", "create", "--data", dir, "--name", "Sårpleie AS", "--org", "312345676", "--patients", "2", "--days", "2", "--format", "json"},
		stdio{in: strings.NewReader(""), out: &out, err: &errb})
	if code != exitOK {
		t.Fatalf("create exit %d: %s", code, errb.String())
	}
	var c struct{ ID, FHIRBase, Token string }
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	c.ID, _ = raw["id"].(string)
	c.FHIRBase, _ = raw["fhir_base"].(string)
	c.Token, _ = raw["token"].(string)
	if c.ID == "" || c.FHIRBase != "/t/"+c.ID+"/fhir" || !strings.HasPrefix(c.Token, "skdev_") {
		t.Fatalf("create printed %s", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"tenant", "list", "--data", dir}, stdio{out: &out, err: &errb}); code != exitOK || !strings.Contains(out.String(), c.ID) {
		t.Fatalf("list exit %d: %s %s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), c.Token) {
		t.Fatal("list prints the token")
	}
	out.Reset()
	if code := run(ctx, []string{"tenant", "reset", c.ID, "--data", dir, "--patients", "2", "--days", "2"}, stdio{out: &out, err: &errb}); code != exitOK {
		t.Fatalf("reset exit %d: %s", code, errb.String())
	}
	// An organisation number with a wrong control digit is refused by
	// name, and no tenant is made.
	errb.Reset()
	if code := run(ctx, []string{"tenant", "create", "--data", dir, "--name", "x", "--org", "312345674"}, stdio{out: &out, err: &errb}); code != exitUsage ||
		!strings.Contains(errb.String(), "mod-11") {
		t.Errorf("invalid org: exit %d, %q", code, errb.String())
	}
	for _, args := range [][]string{
		{"tenant", "reset", "nope", "--data", dir},
		{"tenant", "create", "--data", dir, "--name", "x", "--org", "12"},
		{"tenant", "bogus"},
		{"tenant"},
		{"tenant", "list", "--format", "xml", "--data", dir},
	} {
		if code := run(ctx, args, stdio{out: &out, err: &errb}); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
