package certstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// ErrKeyInUse: a key still signs certificates that are valid, or the
// revocation list, so retiring it would invalidate them.
var ErrKeyInUse = errors.New("the key is still in use")

// RetireKey removes a key from the registry's key set, the last step of a
// key rotation: after it, certificates signed with the key no longer
// verify. It refuses (ErrKeyInUse) to retire the only key, the key that
// signs the revocation list (re-sign it with the new key first: cert
// refresh), or a key that signs certificates still valid at now, which are
// returned, unless force; with force those certificates stop verifying.
// Revoked and expired certificates never hold a key back.
func (s *Store) RetireKey(kid string, now time.Time, force bool) (inUse []string, err error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	if _, ok := keys.Lookup(kid); !ok {
		return nil, fmt.Errorf("certstore: key %q: %w (%s holds %s)", kid, ErrNotFound, s.KeySetPath(), strings.Join(keys.IDs(), ", "))
	}
	if keys.Len() == 1 {
		return nil, fmt.Errorf("certstore: key %s is the registry's only key: %w (add the new key first: sandkasse cert keygen --registry %s)", kid, ErrKeyInUse, s.Dir)
	}
	v := cert.NewVerifier(keys)
	list, _, err := s.Revocations(v)
	if err != nil {
		return nil, err
	}
	if list != nil && list.KeyID == kid {
		return nil, fmt.Errorf("certstore: key %s signs %s: %w (re-sign it with the new key first: sandkasse cert refresh --key NEWKEY)", kid, s.RevocationsPath(), ErrKeyInUse)
	}
	opts := []cert.Option{cert.WithClock(func() time.Time { return now })}
	if list != nil {
		opts = append(opts, cert.WithRevocations(list))
	}
	entries, err := s.List(cert.NewVerifier(keys, opts...))
	if err != nil {
		// A damaged entry could be a valid certificate of this key: the
		// registry must be mended before a key is retired.
		return nil, err
	}
	for _, e := range entries {
		if e.Result.Status == cert.StatusValid && e.Result.Payload.KeyID == kid {
			inUse = append(inUse, e.ID)
		}
	}
	if len(inUse) > 0 && !force {
		return inUse, fmt.Errorf("certstore: key %s signs %d certificate(s) still valid: %w", kid, len(inUse), ErrKeyInUse)
	}
	keys.Retire(kid)
	data, err := keys.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return inUse, writeAtomic(s.KeySetPath(), append(data, '\n'))
}
