// Package certstore keeps the certificate registry: every certificate issued,
// with the report it certifies and the evidence the suite examined, so a
// later rule-set version can be tried on the same evidence (`rules diff`)
// before it is published; the issuer's public key set; and the signed
// revocation list.
//
// It is a directory, like validator/publish, and shares one with it: rule
// sets live in DIR/<id>/<version>/ (ids are lower-case words), everything
// here under names a rule-set id cannot take:
//
//	DIR/jwks.json                       the issuer's public keys (JWKS)
//	DIR/revocations.jws                 the signed revocation list
//	DIR/_certificates/<jti>/
//	    certificate.jws                 the compact certificate
//	    report.json                     the JSON report; its sha256 is the certificate's reportDigest
//	    evidence.json                   the recording (see EncodeEvidence)
//
// An entry is written once, into a temporary directory renamed into place, so
// a reader never sees half an entry. The package does no access control:
// who may issue and revoke is the caller's decision.
package certstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/readlimit"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// Names inside the registry directory.
const (
	KeySetFile      = "jwks.json"
	RevocationsFile = "revocations.jws"
	CertificatesDir = "_certificates"
	CertificateFile = "certificate.jws"
	ReportFile      = "report.json"
	EvidenceFile    = "evidence.json"
)

// Default limits on what an entry may hold. A recorded session of a few
// thousand requests is a few megabytes; the limits keep a damaged or hostile
// registry from exhausting memory when every entry is read for a diff.
const (
	DefaultMaxEvidenceBytes = 64 << 20
	DefaultMaxReportBytes   = 16 << 20
)

// Errors a caller may want to tell apart.
var (
	ErrExists   = errors.New("already in the registry")
	ErrNotFound = errors.New("not in the registry")
	ErrNoKeys   = errors.New("the registry has no key set")
	// ErrBadReason: a revocation reason must be clean text of 1-500 bytes
	// (it is shown to everyone who checks the certificate).
	ErrBadReason = errors.New("a revocation needs a reason: one line of text, at most 500 bytes")
)

// Store is a certificate registry in a directory.
type Store struct {
	Dir string
	// Limits; zero means the defaults.
	MaxEvidenceBytes int64
	MaxReportBytes   int64
}

func (s *Store) maxEvidence() int64 {
	if s.MaxEvidenceBytes > 0 {
		return s.MaxEvidenceBytes
	}
	return DefaultMaxEvidenceBytes
}

func (s *Store) maxReport() int64 {
	if s.MaxReportBytes > 0 {
		return s.MaxReportBytes
	}
	return DefaultMaxReportBytes
}

// KeySetPath is where the registry's JWKS lives.
func (s *Store) KeySetPath() string { return filepath.Join(s.Dir, KeySetFile) }

// RevocationsPath is where the signed revocation list lives.
func (s *Store) RevocationsPath() string { return filepath.Join(s.Dir, RevocationsFile) }

func (s *Store) entryDir(id string) string { return filepath.Join(s.Dir, CertificatesDir, id) }

// Keys reads the registry's key set; ErrNoKeys when there is none yet.
func (s *Store) Keys() (*cert.KeySet, error) {
	p := s.KeySetPath()
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (add one with `sandkasse cert keygen --registry %s`)", p, ErrNoKeys, s.Dir)
	}
	return cert.LoadKeySet(p)
}

// AddKey puts a public key in the registry's key set. Adding a key that is
// there is a no-op; another key under a present key id is refused, since it
// would strand every certificate signed with the first.
func (s *Store) AddKey(k cert.PublicKey) (added bool, err error) {
	ks, err := s.Keys()
	switch {
	case errors.Is(err, ErrNoKeys):
		ks, _ = cert.NewKeySet()
	case err != nil:
		return false, err
	}
	if have, ok := ks.Lookup(k.ID); ok {
		if string(have.Key) == string(k.Key) {
			return false, nil
		}
		return false, fmt.Errorf("%s: key id %q is already used by another key", s.KeySetPath(), k.ID)
	}
	if err := ks.Add(k); err != nil {
		return false, err
	}
	data, err := ks.MarshalJSON()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return false, err
	}
	return true, writeAtomic(s.KeySetPath(), append(data, '\n'))
}

// Entry is one stored certificate.
type Entry struct {
	ID    string // the certificate's jti
	Dir   string
	Token string
	// Result is the certificate's verdict from the verifier List or Get
	// was given; Result.Payload is nil when the signature did not verify.
	Result cert.Result
}

// Put stores a freshly issued certificate with its JSON report and the
// recording the suite examined. The certificate must verify against the
// registry's key set, be currently valid, and name the report by its
// digest; an id already stored is refused with ErrExists.
func (s *Store) Put(token string, report []byte, rec *suite.Recording) (*cert.Payload, error) {
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	res := cert.NewVerifier(keys).Verify(strings.TrimSpace(token))
	if !res.Valid() {
		return nil, fmt.Errorf("certstore: the certificate does not verify against %s: %s: %s", s.KeySetPath(), res.Status, res.Detail)
	}
	p := res.Payload
	if !safeID(p.ID) {
		return nil, fmt.Errorf("certstore: certificate id %q cannot name a directory", p.ID)
	}
	if d := digest(report); d != p.ReportDigest {
		return nil, fmt.Errorf("certstore: the report's digest %s is not the certificate's reportDigest %s", d, p.ReportDigest)
	}
	if int64(len(report)) > s.maxReport() {
		return nil, fmt.Errorf("certstore: the report is larger than %d bytes", s.maxReport())
	}
	ev, err := EncodeEvidence(rec)
	if err != nil {
		return nil, err
	}
	if int64(len(ev)) > s.maxEvidence() {
		return nil, fmt.Errorf("certstore: the evidence is %d bytes, more than the limit of %d", len(ev), s.maxEvidence())
	}
	final := s.entryDir(p.ID)
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("certstore: certificate %s: %w", p.ID, ErrExists)
	}
	parent := filepath.Join(s.Dir, CertificatesDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, ".put-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	for name, data := range map[string][]byte{
		CertificateFile: []byte(strings.TrimSpace(token) + "\n"),
		ReportFile:      report,
		EvidenceFile:    ev,
	} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Lstat(final); serr == nil {
			return nil, fmt.Errorf("certstore: certificate %s: %w", p.ID, ErrExists)
		}
		return nil, err
	}
	return p, nil
}

// Get reads one entry's certificate and verifies it with v.
func (s *Store) Get(id string, v *cert.Verifier) (*Entry, error) {
	if !safeID(id) {
		// Not an id the registry could hold, so not in it.
		return nil, fmt.Errorf("certstore: %q is not a certificate id: %w", id, ErrNotFound)
	}
	dir := s.entryDir(id)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("certstore: certificate %s: %w (%s)", id, ErrNotFound, dir)
	}
	return s.read(id, v)
}

func (s *Store) read(id string, v *cert.Verifier) (*Entry, error) {
	dir := s.entryDir(id)
	p := filepath.Join(dir, CertificateFile)
	data, err := readlimit.File(p, cert.MaxCertificateBytes+2)
	if err != nil {
		return nil, err
	}
	e := &Entry{ID: id, Dir: dir, Token: strings.TrimSpace(string(data))}
	e.Result = v.Verify(e.Token)
	if e.Result.Status == cert.StatusUnknownKey {
		// Signed with a key since retired (or never in this key set): no
		// longer a valid certificate, but not a damaged entry either.
		return e, nil
	}
	if e.Result.Payload == nil {
		return nil, fmt.Errorf("%s: %s: %s", p, e.Result.Status, e.Result.Detail)
	}
	if e.Result.Payload.ID != id {
		return nil, fmt.Errorf("%s: the certificate's id is %s, not the directory's name", p, e.Result.Payload.ID)
	}
	return e, nil
}

// Problems lists malformed registry entries, each with its path.
type Problems []error

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return "certificate registry:\n" + strings.Join(msgs, "\n")
}

// List reads every stored certificate, verified with v (whose key set and
// revocation list decide each verdict), ordered by issue time then id.
// Entries that cannot be read or whose signature does not verify are
// returned as Problems beside the good ones, never dropped silently.
func (s *Store) List(v *cert.Verifier) ([]Entry, error) {
	parent := filepath.Join(s.Dir, CertificatesDir)
	ents, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	var probs Problems
	for _, d := range ents {
		name := d.Name()
		if strings.HasPrefix(name, ".") {
			continue // a Put in progress or abandoned
		}
		if !d.IsDir() || !safeID(name) {
			probs = append(probs, fmt.Errorf("%s: not a certificate entry (want a directory named by the certificate id)", filepath.Join(parent, name)))
			continue
		}
		e, err := s.read(name, v)
		if err != nil {
			probs = append(probs, err)
			continue
		}
		out = append(out, *e)
	}
	issued := func(e Entry) time.Time {
		if e.Result.Payload == nil {
			return time.Time{} // unverifiable entries first
		}
		return e.Result.Payload.Issued
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := issued(out[i]), issued(out[j]); !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].ID < out[j].ID
	})
	if len(probs) > 0 {
		return out, probs
	}
	return out, nil
}

// Report returns an entry's report, checked against the certificate's
// reportDigest.
func (s *Store) Report(e *Entry) ([]byte, error) {
	p := filepath.Join(e.Dir, ReportFile)
	data, err := readlimit.File(p, s.maxReport())
	if err != nil {
		return nil, err
	}
	if e.Result.Payload == nil || digest(data) != e.Result.Payload.ReportDigest {
		return nil, fmt.Errorf("%s: not the report the certificate names (digest differs)", p)
	}
	return data, nil
}

// Evidence returns an entry's recording.
func (s *Store) Evidence(e *Entry) (*suite.Recording, error) {
	p := filepath.Join(e.Dir, EvidenceFile)
	data, err := readlimit.File(p, s.maxEvidence())
	if err != nil {
		return nil, err
	}
	rec, err := DecodeEvidence(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return rec, nil
}

// Revocations reads the registry's signed revocation list and verifies it
// with v. It returns nil and no error when no list has been written yet.
func (s *Store) Revocations(v *cert.Verifier) (*cert.RevocationList, string, error) {
	p := s.RevocationsPath()
	data, err := readlimit.File(p, cert.MaxRevocationListBytes+2)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	token := strings.TrimSpace(string(data))
	l, err := v.VerifyRevocations(token)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", p, err)
	}
	return l, token, nil
}

// EnsureRevocations writes an empty signed list when there is none, so a
// server can publish a list before the first revocation.
func (s *Store) EnsureRevocations(signer *cert.Signer) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(s.RevocationsPath()); err == nil {
		return nil
	}
	token, err := signer.SignRevocations(&cert.RevocationList{})
	if err != nil {
		return err
	}
	return writeAtomic(s.RevocationsPath(), []byte(token+"\n"))
}

// Revoke adds a certificate to the signed revocation list and re-signs it.
// The certificate must be in the registry (a typo must not revoke nothing
// silently), the signer's key must be in the registry's key set (or the
// list would not verify for anyone), and the existing list must verify.
func (s *Store) Revoke(signer *cert.Signer, id, reason string, at time.Time) (cert.Revocation, error) {
	// Checked here too, before anything is read, so a caller can tell a
	// bad reason (the client's mistake) from a registry problem.
	if err := (&cert.RevocationList{}).Revoke(cert.Revocation{ID: "x", RevokedAt: time.Unix(1, 0), Reason: reason}); err != nil {
		return cert.Revocation{}, fmt.Errorf("certstore: %w", ErrBadReason)
	}
	keys, err := s.Keys()
	if err != nil {
		return cert.Revocation{}, err
	}
	if _, ok := keys.Lookup(signer.KeyID()); !ok {
		return cert.Revocation{}, fmt.Errorf("certstore: key %s is not in %s; a list signed with it would not verify", signer.KeyID(), s.KeySetPath())
	}
	v := cert.NewVerifier(keys)
	if _, err := s.Get(id, v); err != nil {
		return cert.Revocation{}, err
	}
	unlock, err := s.lock()
	if err != nil {
		return cert.Revocation{}, err
	}
	defer unlock()
	l, _, err := s.Revocations(v)
	if err != nil {
		return cert.Revocation{}, err
	}
	if l == nil {
		l = &cert.RevocationList{}
	}
	r := cert.Revocation{ID: id, RevokedAt: at, Reason: reason}
	if err := l.Revoke(r); err != nil {
		return cert.Revocation{}, err
	}
	token, err := signer.SignRevocations(l)
	if err != nil {
		return cert.Revocation{}, err
	}
	if err := writeAtomic(s.RevocationsPath(), []byte(token+"\n")); err != nil {
		return cert.Revocation{}, err
	}
	got, _ := l.Lookup(id)
	return got, nil
}

// lockWait bounds how long Revoke waits for another writer of the list
// (a variable so a test can shorten it).
var lockWait = 5 * time.Second

// lock serialises writers of the revocation list with an exclusive lock
// file; portable, unlike flock, so the library still runs in a vendor's CI
// on any OS.
func (s *Store) lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(s.Dir, ".revocations.lock")
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(p) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("certstore: %s is held by another writer of the revocation list (remove it if no revocation is running)", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// safeID accepts a certificate id that names one directory.
func safeID(id string) bool {
	if id == "" || len(id) > 128 || strings.HasPrefix(id, ".") || strings.HasPrefix(id, "_") {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// writeAtomic replaces path with data through a temporary file and a rename,
// so a reader sees the old file or the new one, never half of one.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
