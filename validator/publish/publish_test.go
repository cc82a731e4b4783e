package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
