package certstore

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// A rotation: the old key is retired only once nothing valid depends on it.
func TestRetireKey(t *testing.T) {
	f := newFixture(t)
	oldID := f.key.ID()
	now := time.Now()
	c1, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, refreshed, err := f.store.RefreshRevocations(f.signer, now); err != nil || !refreshed {
		t.Fatalf("first list: %v %v", refreshed, err)
	}
	if _, err := f.store.RetireKey(oldID, now, true); !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("retiring the only key, even forced: %v", err)
	}

	newKey, err := cert.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	newSigner, err := cert.NewSigner(newKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddKey(newKey.Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.RetireKey(oldID, now, true); !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("retiring the key that signs the revocation list, even forced: %v", err)
	}
	// The list was fresh; a refresh with the new key moves it anyway.
	if _, refreshed, err := f.store.RefreshRevocations(newSigner, now); err != nil || !refreshed {
		t.Fatalf("refresh with the new key: refreshed %v, %v", refreshed, err)
	}

	inUse, err := f.store.RetireKey(oldID, now, false)
	if !errors.Is(err, ErrKeyInUse) || !sameIDs(inUse, c1.ID, c2.ID) {
		t.Fatalf("two valid certificates of the old key: in use %v, %v", inUse, err)
	}
	if _, err := f.store.Revoke(newSigner, c1.ID, "superseded by a new version", now); err != nil {
		t.Fatal(err)
	}
	inUse, err = f.store.RetireKey(oldID, now, false)
	if !errors.Is(err, ErrKeyInUse) || !reflect.DeepEqual(inUse, []string{c2.ID}) {
		t.Fatalf("after revoking one: in use %v, %v", inUse, err)
	}
	// Once the second has expired, nothing holds the key back.
	later := c2.Expires.Add(time.Minute)
	if inUse, err := f.store.RetireKey(oldID, later, false); err != nil || len(inUse) != 0 {
		t.Fatalf("retire after expiry: in use %v, %v", inUse, err)
	}
	keys, err := f.store.Keys()
	if err != nil || !reflect.DeepEqual(keys.IDs(), []string{newKey.ID()}) {
		t.Fatalf("keys after retiring: %v %v", keys.IDs(), err)
	}
	e, err := f.store.Get(c2.ID, cert.NewVerifier(keys))
	if err != nil || e.Result.Status != cert.StatusUnknownKey {
		t.Fatalf("a certificate of the retired key: %+v %v", e, err)
	}
	if _, err := f.store.RetireKey(oldID, later, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retiring it again: %v", err)
	}
}

// force retires a key whose certificates are still valid, and names them.
func TestRetireKeyForced(t *testing.T) {
	f := newFixture(t)
	c, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := cert.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddKey(newKey.Public()); err != nil {
		t.Fatal(err)
	}
	inUse, err := f.store.RetireKey(f.key.ID(), time.Now(), true)
	if err != nil || !reflect.DeepEqual(inUse, []string{c.ID}) {
		t.Fatalf("forced: in use %v, %v", inUse, err)
	}
	if keys, _ := f.store.Keys(); keys.Len() != 1 {
		t.Fatalf("keys after a forced retire: %v", keys.IDs())
	}
}

func sameIDs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}
