package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/ruleset"
)

func testKey(t *testing.T, name string) *Key {
	t.Helper()
	sk, err := cert.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := cert.WriteSigningKey(p, sk, cert.PEM); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPublishListDuplicate(t *testing.T) {
	const dir = "../../rules/dho-vkp"
	rs, err := ruleset.Load(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	key, other := testKey(t, "a.pem"), testKey(t, "b.pem")
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	reg := &Registry{Dir: t.TempDir(), Now: func() time.Time { return now }}
	rec, err := reg.Publish(rs, os.DirFS(dir), "Ola", key)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != "dho-vkp" || rec.Digest != rs.Digest || !rec.Published.Equal(now) || rec.KeyID != key.ID {
		t.Errorf("record %+v", rec)
	}
	if _, err := reg.Publish(rs, os.DirFS(dir), "Ola", key); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	good, _ := cert.NewKeySet(key.Public())
	if es, _ := reg.List(good); len(es) != 1 || !es[0].Verified || !es[0].Intact {
		t.Errorf("list: %+v", es)
	}
	wrong, _ := cert.NewKeySet(other.Public())
	if es, _ := reg.List(wrong); len(es) != 1 || es[0].Verified || !strings.Contains(es[0].Problem, "not in the key set") {
		t.Errorf("list with the wrong key: %+v", es)
	}
	// A record re-signed by another key under this key's id does not verify.
	p := filepath.Join(reg.Dir, "dho-vkp", rec.Version, "record.jws")
	b, _ := os.ReadFile(p)
	parts := strings.Split(strings.TrimSpace(string(b)), ".")
	parts[2] = strings.Repeat("A", len(parts[2]))
	os.WriteFile(p, []byte(strings.Join(parts, ".")), 0o644)
	if es, _ := reg.List(good); len(es) != 1 || es[0].Verified || es[0].Problem == "" {
		t.Errorf("tampered record: %+v", es)
	}
}

func TestLookupNamesDamage(t *testing.T) {
	const dir = "../../rules/dho-vkp"
	rs, err := ruleset.Load(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	key := testKey(t, "a.pem")
	ks, _ := cert.NewKeySet(key.Public())
	reg := &Registry{Dir: t.TempDir()}
	rec, err := reg.Publish(rs, os.DirFS(dir), "Ola", key)
	if err != nil {
		t.Fatal(err)
	}
	e, err := reg.Lookup("dho-vkp", rec.Version, ks)
	if err != nil || !e.Verified || !e.Intact || Files(e) != filepath.Join(reg.Dir, "dho-vkp", rec.Version, "files") {
		t.Fatalf("lookup: %+v %v", e, err)
	}
	if _, err := reg.Lookup("dho-vkp", "9.9.9", ks); err == nil || !strings.Contains(err.Error(), "not published") {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := reg.Lookup("..", "x", ks); err == nil {
		t.Error("a path as id accepted")
	}
	// A changed stored file: the error names the files directory.
	man := filepath.Join(Files(e), "ruleset.yaml")
	b, _ := os.ReadFile(man)
	os.WriteFile(man, append(b, '\n'), 0o644)
	if _, err := reg.Lookup("dho-vkp", rec.Version, ks); err == nil || !strings.Contains(err.Error(), Files(e)) {
		t.Errorf("changed files: %v", err)
	}
	// A record that is not a JWS: the error names record.jws.
	p := filepath.Join(e.Dir, "record.jws")
	os.WriteFile(p, []byte("garbage"), 0o644)
	if _, err := reg.Lookup("dho-vkp", rec.Version, ks); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("broken record: %v", err)
	}
}

func TestCheckFindsFailingTests(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "epr-smart-app")
	if err := os.CopyFS(dir, os.DirFS("../../rules/epr-smart-app")); err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"../../../shared/profiles"}
	if _, err := os.Stat(pkgs[0]); err != nil {
		t.Skip("../shared/profiles is not here")
	}
	load := func() *ruleset.RuleSet {
		rs, err := ruleset.Load(ctx, os.DirFS(dir), dir)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	if res, err := Check(ctx, load(), pkgs); err != nil || !res.OK() {
		t.Fatalf("shipped rule set: %+v %v", res, err)
	}
	p := filepath.Join(dir, "policies", "oauth.rego")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), "{43}$", "{44}$", 1)), 0o644)
	res, err := Check(ctx, load(), pkgs)
	if err != nil || res.OK() || res.Failed() == 0 {
		t.Errorf("stricter rule with old tests: failed %d, %v", res.Failed(), err)
	}
	// A suite naming a rule the rule set lacks is a problem with its file.
	s := filepath.Join(dir, "suites", "smart-app.yaml")
	b, _ = os.ReadFile(s)
	os.WriteFile(s, []byte(strings.Replace(string(b), "SMART-AUTHZ-01,", "SMART-NOPE-99,", 1)), 0o644)
	res, err = Check(ctx, load(), pkgs)
	found := false
	for _, pr := range res.Problems {
		found = found || (strings.Contains(pr.File, "smart-app.yaml") && strings.Contains(pr.Message, "SMART-NOPE-99"))
	}
	if err != nil || !found {
		t.Errorf("unknown rule in a suite: %+v %v", res.Problems, err)
	}
}

// TestRecordType: a JWS the registry key signed with another typ (as it
// signs certificates and revocation lists) is not a record, even with a
// record's body.
func TestRecordType(t *testing.T) {
	const dir = "../../rules/dho-vkp"
	rs, err := ruleset.Load(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	key := testKey(t, "a.pem")
	ks, _ := cert.NewKeySet(key.Public())
	reg := &Registry{Dir: t.TempDir()}
	rec, err := reg.Publish(rs, os.DirFS(dir), "Ola", key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup(rec.ID, rec.Version, ks); err != nil {
		t.Fatalf("the record as published: %v", err)
	}
	p := filepath.Join(reg.Dir, rec.ID, rec.Version, "record.jws")
	b, _ := os.ReadFile(p)
	obj, err := jose.ParseSigned(strings.TrimSpace(string(b)), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType(cert.CertificateType))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := js.Sign(obj.UnsafePayloadWithoutVerification())
	if err != nil {
		t.Fatal(err)
	}
	token, _ := signed.CompactSerialize()
	if err := os.WriteFile(p, []byte(token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup(rec.ID, rec.Version, ks); err == nil || !strings.Contains(err.Error(), "typ") {
		t.Fatalf("a record signed with typ %s: %v", cert.CertificateType, err)
	}
	if es, _ := reg.List(ks); len(es) != 1 || es[0].Verified || !strings.Contains(es[0].Problem, "typ") {
		t.Fatalf("list: %+v", es)
	}
}
