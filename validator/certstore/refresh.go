package certstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// needsRefresh: a list is re-signed once half its validity has passed (or
// it has none), so a copy a reader fetches stays fresh for at least half
// the signer's revocation validity; and when another key signed it, so
// that in a key rotation the list moves to the new key before the old one
// is retired.
func needsRefresh(l *cert.RevocationList, signer *cert.Signer, now time.Time) bool {
	return l == nil || !l.Bounded() || l.NextUpdate.Sub(now) < signer.RevocationValidity()/2 || l.KeyID != signer.KeyID()
}

// RefreshRevocations returns the registry's signed revocation list,
// re-signed first (same entries, new issue time and next update) when
// there is none, it has no next update, less than half of the signer's
// revocation validity is left, or another key signed it. The signer's key
// must be in the registry's key set, and the list on disk must verify: a
// list that does not is never re-signed (that would launder it).
// refreshed says whether it was written.
func (s *Store) RefreshRevocations(signer *cert.Signer, now time.Time) (token string, refreshed bool, err error) {
	keys, err := s.Keys()
	if err != nil {
		return "", false, err
	}
	if _, ok := keys.Lookup(signer.KeyID()); !ok {
		return "", false, fmt.Errorf("certstore: key %s is not in %s; a list signed with it would not verify", signer.KeyID(), s.KeySetPath())
	}
	v := cert.NewVerifier(keys)
	l, token, err := s.Revocations(v)
	if err != nil || !needsRefresh(l, signer, now) {
		return token, false, err
	}
	unlock, err := s.lock()
	if err != nil {
		return "", false, err
	}
	defer unlock()
	// Again under the lock: another writer may have refreshed it or
	// added a revocation meanwhile.
	if l, token, err = s.Revocations(v); err != nil || !needsRefresh(l, signer, now) {
		return token, false, err
	}
	if l == nil {
		l = &cert.RevocationList{}
	}
	if token, err = signer.SignRevocations(l); err != nil {
		return "", false, err
	}
	if err := writeAtomic(s.RevocationsPath(), []byte(token+"\n")); err != nil {
		return "", false, err
	}
	return strings.TrimSpace(token), true, nil
}
