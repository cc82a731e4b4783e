package cert

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrAlreadyRevoked is returned by [RevocationList.Revoke] for a
// certificate the list holds.
var ErrAlreadyRevoked = errors.New("already revoked")

// Revocation withdraws one certificate.
type Revocation struct {
	ID        string    // the certificate's jti
	RevokedAt time.Time // whole seconds
	Reason    string    // shown to procurement, e.g. "artifact digest does not match the shipped app"
}

// RevocationList is the public list of revoked certificates. It is signed
// like a certificate (typ [RevocationListType]) so a copy fetched over any
// channel can be trusted as far as the key set is. A listed certificate is
// revoked whatever its RevokedAt says: the time is information, not a
// schedule.
type RevocationList struct {
	Issuer string    // must match the certificates' iss
	KeyID  string    // set on a verified list
	Issued time.Time // set by signing; lets a reader see how fresh the list is
	// NextUpdate, set by signing, is when the issuer stops vouching for
	// the list: past it, a copy may hide a later revocation (see
	// [Verifier.CheckFresh]). Zero on a list signed before lists carried
	// it: such a list has no freshness bound.
	NextUpdate time.Time
	revs       []Revocation
}

// Limits on a revocation list's validity ([WithRevocationValidity]).
const (
	DefaultRevocationValidity = 24 * time.Hour
	MaxRevocationValidity     = 31 * 24 * time.Hour
)

// ErrStaleRevocations is [Verifier.CheckFresh]'s error for a list past its
// next update.
var ErrStaleRevocations = errors.New("the revocation list is stale")

// WithRevocationValidity sets how long a signed revocation list is valid
// (default DefaultRevocationValidity, at most MaxRevocationValidity); the
// issuer must re-sign it before then.
func WithRevocationValidity(d time.Duration) Option {
	return func(o *options) { o.revocationValidity = d }
}

// Bounded reports whether the list says until when it is valid.
func (l *RevocationList) Bounded() bool { return !l.NextUpdate.IsZero() }

// CheckFresh refuses a list past its next update (with the verifier's
// leeway), wrapping ErrStaleRevocations with when it was signed: a stale
// list served by anyone who kept a copy could hide a later revocation. A
// list without a next update is not refused (see Bounded): it is genuine,
// and refusing it would leave only verification without any revocation
// check. Callers that consult a list they did not write themselves call
// this before [WithRevocations].
func (v *Verifier) CheckFresh(l *RevocationList) error {
	if !l.Bounded() {
		return nil
	}
	if now := v.opts.now(); !now.Before(l.NextUpdate.Add(v.opts.leeway)) {
		return fmt.Errorf("%w: signed %s, valid until %s (%s ago); fetch the issuer's current list",
			ErrStaleRevocations, formatTime(l.Issued), formatTime(l.NextUpdate), now.Sub(l.NextUpdate).Truncate(time.Second))
	}
	return nil
}

type wireRevocationList struct {
	Ver    int    `json:"ver"`
	Issuer string `json:"iss"`
	KeyID  string `json:"kid"`
	Issued string `json:"issued"`
	// NextUpdate is absent on lists signed before it existed.
	NextUpdate string           `json:"nextUpdate,omitempty"`
	Revoked    []wireRevocation `json:"revoked"`
}

type wireRevocation struct {
	ID        string `json:"jti"`
	RevokedAt string `json:"revokedAt"`
	Reason    string `json:"reason"`
}

// Revoke adds a certificate to the list; a certificate is listed once.
func (l *RevocationList) Revoke(r Revocation) error {
	if r.ID == "" || len(r.ID) > 128 || !isIDString(r.ID) {
		return errors.New("cert: revocation needs the certificate id (jti)")
	}
	if r.Reason == "" || len(r.Reason) > 500 || !isCleanText(r.Reason) {
		return errors.New("cert: revocation needs a reason of clean text, at most 500 bytes")
	}
	if r.RevokedAt.IsZero() {
		return errors.New("cert: revocation needs a time")
	}
	r.RevokedAt = r.RevokedAt.UTC().Truncate(time.Second)
	i := sort.Search(len(l.revs), func(i int) bool { return l.revs[i].ID >= r.ID })
	if i < len(l.revs) && l.revs[i].ID == r.ID {
		return fmt.Errorf("cert: certificate %s is %w", r.ID, ErrAlreadyRevoked)
	}
	l.revs = append(l.revs, Revocation{})
	copy(l.revs[i+1:], l.revs[i:])
	l.revs[i] = r
	return nil
}

// Lookup finds a certificate's revocation.
func (l *RevocationList) Lookup(id string) (Revocation, bool) {
	i := sort.Search(len(l.revs), func(i int) bool { return l.revs[i].ID >= id })
	if i < len(l.revs) && l.revs[i].ID == id {
		return l.revs[i], true
	}
	return Revocation{}, false
}

// Entries lists the revocations ordered by certificate id.
func (l *RevocationList) Entries() []Revocation { return append([]Revocation(nil), l.revs...) }

func (l *RevocationList) canonical() ([]byte, error) {
	w := wireRevocationList{Ver: PayloadVersion, Issuer: l.Issuer, KeyID: l.KeyID, Issued: formatTime(l.Issued),
		Revoked: make([]wireRevocation, len(l.revs))}
	if l.Bounded() {
		w.NextUpdate = formatTime(l.NextUpdate)
	}
	for i, r := range l.revs {
		w.Revoked[i] = wireRevocation{r.ID, formatTime(r.RevokedAt), r.Reason}
	}
	return canonicalJSON(w)
}

// SignRevocations signs the list as it stands, stamped with the signer's
// key id, issuer (when the list has none), the current time and the next
// update (the current time plus the signer's revocation validity).
func (s *Signer) SignRevocations(l *RevocationList) (string, error) {
	c := *l
	c.KeyID = s.key.id
	if c.Issuer == "" {
		c.Issuer = s.opts.issuer
	}
	c.Issued = s.opts.now().UTC().Truncate(time.Second)
	c.NextUpdate = c.Issued.Add(s.opts.revocationValidity)
	body, err := c.canonical()
	if err != nil {
		return "", err
	}
	return s.sign(s.revokJWS, body)
}

// VerifyRevocations checks a signed revocation list against the verifier's
// key set and returns it for [WithRevocations]. The error is a *VerifyError.
func (v *Verifier) VerifyRevocations(compact string) (*RevocationList, error) {
	body, kid, verr := v.verifyJWS(compact, RevocationListType, MaxRevocationListBytes)
	if verr != nil {
		return nil, verr
	}
	bad := func(format string, args ...any) error {
		return &VerifyError{Status: StatusMalformed, Code: CodePayload, Detail: "revocation list: " + fmt.Sprintf(format, args...)}
	}
	var w wireRevocationList
	if err := decodeStrict(body, &w); err != nil {
		return nil, bad("%v", err)
	}
	if w.Ver != PayloadVersion {
		return nil, bad("version %d is not supported", w.Ver)
	}
	if w.KeyID != kid {
		return nil, bad("names a different key id than its header")
	}
	issued, ok := parseTime(w.Issued)
	if !ok || w.Issuer == "" {
		return nil, bad("needs an issuer and an RFC 3339 UTC issue time")
	}
	l := &RevocationList{Issuer: w.Issuer, KeyID: w.KeyID, Issued: issued}
	if w.NextUpdate != "" {
		next, ok := parseTime(w.NextUpdate)
		if !ok || !next.After(issued) {
			return nil, bad("nextUpdate must be an RFC 3339 UTC time after the issue time")
		}
		l.NextUpdate = next
	}
	for i, r := range w.Revoked {
		at, ok := parseTime(r.RevokedAt)
		if !ok {
			return nil, bad("entry %d: revokedAt is not RFC 3339 UTC seconds", i)
		}
		if i > 0 && r.ID <= w.Revoked[i-1].ID {
			return nil, bad("entries are not in strictly ascending id order")
		}
		if err := l.Revoke(Revocation{ID: r.ID, RevokedAt: at, Reason: r.Reason}); err != nil {
			return nil, bad("entry %d: %v", i, err)
		}
	}
	canon, err := l.canonical()
	if err != nil || string(canon) != string(body) {
		return nil, bad("not in canonical form")
	}
	return l, nil
}

// RevocationValidity is how long the lists this signer signs are valid.
func (s *Signer) RevocationValidity() time.Duration { return s.opts.revocationValidity }
