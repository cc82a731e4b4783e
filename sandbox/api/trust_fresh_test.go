package api

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// The served revocation list is re-signed by a server with a key once half
// its validity has passed, so a verifier never gets a stale one from it; a
// server without a key serves what it has, and the verifier refuses it.
func TestServedRevocationListIsFresh(t *testing.T) {
	for _, withSigner := range []bool{true, false} {
		f := newTrust(t, withSigner)
		k, err := cert.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.trust.Store.AddKey(k.Public()); err != nil {
			t.Fatal(err)
		}
		if withSigner {
			f.trust.Signer, _ = cert.NewSigner(k)
		}
		for _, age := range []time.Duration{20 * time.Hour, 48 * time.Hour} {
			signed := time.Now().Add(-age).UTC().Truncate(time.Second)
			old, _ := cert.NewSigner(k, cert.WithClock(func() time.Time { return signed }))
			os.Remove(f.trust.Store.RevocationsPath())
			if err := f.trust.Store.EnsureRevocations(old); err != nil {
				t.Fatal(err)
			}
			w := f.do("GET", "/.well-known/revocations.jws", "", "", nil)
			if w.Code != 200 {
				t.Fatalf("list: %d %s", w.Code, w.Body)
			}
			ks, _ := f.trust.Store.Keys()
			v := cert.NewVerifier(ks)
			l, err := v.VerifyRevocations(strings.TrimSpace(w.Body.String()))
			if err != nil {
				t.Fatal(err)
			}
			fresh := v.CheckFresh(l)
			switch {
			case withSigner && (fresh != nil || l.NextUpdate.Sub(time.Now()) < cert.DefaultRevocationValidity-time.Minute):
				t.Errorf("signed %s ago, served with a key: next update %s, %v", age, l.NextUpdate, fresh)
			case !withSigner && !l.Issued.Equal(signed):
				t.Errorf("signed %s ago, served without a key: issued %s, want the list as it was", age, l.Issued)
			case !withSigner && age > cert.DefaultRevocationValidity && !errors.Is(fresh, cert.ErrStaleRevocations):
				t.Errorf("a stale list served without a key passed CheckFresh: %v", fresh)
			}
		}
	}
}
