// Package publish keeps a directory-backed registry of published rule sets.
//
// Each published version lives in REGDIR/<id>/<version>/: the rule set's
// files under files/ (byte for byte, so the recorded digest can be
// recomputed) and record.jws, a compact JWS (EdDSA, signed with a
// validator/cert key) over the record JSON: id, version, digest, effective
// date, signer and publish time. A version is never replaced: publishing
// an id+version that exists is refused, and earlier versions stay.
//
// This package does no access control. Who may publish (the staff role) is
// the caller's decision; a server must check real roles before calling it.
package publish

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/ruleset"
)

// RecordType is the JWS "typ" of a publish record.
const RecordType = "sandkasse-ruleset-record+jws"

// ErrDuplicate is returned when the id+version is already published.
var ErrDuplicate = errors.New("this rule-set version is already published")

// Record is what the registry says about one published version.
type Record struct {
	ID        string    `json:"id"`
	Version   string    `json:"version"`
	Digest    string    `json:"digest"`
	Effective string    `json:"effective"`
	Signer    string    `json:"signer"`
	KeyID     string    `json:"kid"`
	Published time.Time `json:"published"`
}

// Key is a record-signing key: the Ed25519 private key of a cert key file
// and its key id.
type Key struct {
	ID   string
	priv ed25519.PrivateKey
}

// LoadKey reads a key file written by `sandkasse cert keygen`
// (cert.WriteSigningKey: PEM PKCS #8 or a private JWK).
func LoadKey(path string) (*Key, error) {
	sk, err := cert.LoadSigningKey(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var priv ed25519.PrivateKey
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(trimmed, &jwk); err != nil {
			return nil, fmt.Errorf("%s: not a valid JWK", path)
		}
		priv, _ = jwk.Key.(ed25519.PrivateKey)
	} else if block, _ := pem.Decode(trimmed); block != nil {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: not a PKCS #8 private key", path)
		}
		priv, _ = k.(ed25519.PrivateKey)
	}
	if priv == nil {
		return nil, fmt.Errorf("%s: not an Ed25519 private key", path)
	}
	return &Key{ID: sk.ID(), priv: priv}, nil
}

// Public is the key's public half, for a cert.KeySet.
func (k *Key) Public() cert.PublicKey {
	return cert.PublicKey{ID: k.ID, Key: k.priv.Public().(ed25519.PublicKey)}
}

// Registry is a directory of published rule sets.
type Registry struct {
	Dir string
	Now func() time.Time // default time.Now
}

func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00") && !strings.HasPrefix(s, ".")
}

// Publish copies the rule set rs (loaded from src) into the registry and
// writes its signed record. The caller has already run the rule set's
// tests and checks; Publish refuses a version that is already there.
func (r *Registry) Publish(rs *ruleset.RuleSet, src fs.FS, signer string, key *Key) (Record, error) {
	m := rs.Manifest
	if !safeName(m.ID) || !safeName(m.Version) {
		return Record{}, fmt.Errorf("publish: id %q or version %q cannot name a directory", m.ID, m.Version)
	}
	if strings.TrimSpace(signer) == "" {
		return Record{}, errors.New("publish: the signer must be named")
	}
	if key == nil {
		return Record{}, errors.New("publish: no signing key")
	}
	digest, err := ruleset.Digest(src)
	if err != nil {
		return Record{}, err
	}
	if digest != rs.Digest {
		return Record{}, fmt.Errorf("publish: the files changed since the rule set was loaded (%s, now %s)", rs.Digest, digest)
	}
	idDir := filepath.Join(r.Dir, m.ID)
	final := filepath.Join(idDir, m.Version)
	if _, err := os.Stat(final); err == nil {
		return Record{}, fmt.Errorf("publish: %s %s: %w", m.ID, m.Version, ErrDuplicate)
	}
	if err := os.MkdirAll(idDir, 0o755); err != nil {
		return Record{}, err
	}
	tmp, err := os.MkdirTemp(idDir, ".publish-")
	if err != nil {
		return Record{}, err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	files := filepath.Join(tmp, "files")
	if err := os.CopyFS(files, src); err != nil {
		return Record{}, fmt.Errorf("publish: copying the rule set: %w", err)
	}
	if d, err := ruleset.Digest(os.DirFS(files)); err != nil || d != digest {
		return Record{}, fmt.Errorf("publish: the copy does not match the rule set's digest (%s, copy %s, %v)", digest, d, err)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	rec := Record{ID: m.ID, Version: m.Version, Digest: digest, Effective: m.Effective,
		Signer: signer, KeyID: key.ID, Published: now().UTC().Truncate(time.Second)}
	body, err := json.Marshal(rec)
	if err != nil {
		return Record{}, err
	}
	js, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType(RecordType))
	if err != nil {
		return Record{}, err
	}
	obj, err := js.Sign(body)
	if err != nil {
		return Record{}, err
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return Record{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "record.jws"), []byte(token+"\n"), 0o644); err != nil {
		return Record{}, err
	}
	// Rename does not replace a non-empty directory, so two publishers
	// racing for one version cannot both win.
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(final); serr == nil {
			return Record{}, fmt.Errorf("publish: %s %s: %w", m.ID, m.Version, ErrDuplicate)
		}
		return Record{}, err
	}
	return rec, nil
}

// Entry is one published version as listed: its record, and whether the
// record's signature checked out against the given keys (Verified) and the
// stored files still have the recorded digest (Intact).
type Entry struct {
	Record
	Dir      string `json:"dir"`
	Verified bool   `json:"verified"`
	Intact   bool   `json:"intact"`
	Problem  string `json:"problem,omitempty"`
}

// List returns every published version, by id then publish time. With keys,
// each record's signature is verified; without, Verified stays false.
func (r *Registry) List(keys *cert.KeySet) ([]Entry, error) {
	recs, err := filepath.Glob(filepath.Join(r.Dir, "*", "*", "record.jws"))
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, p := range recs {
		dir := filepath.Dir(p)
		e := Entry{Dir: dir}
		if err := readRecord(p, keys, &e); err != nil {
			e.Problem = err.Error()
			e.ID, e.Version = filepath.Base(filepath.Dir(dir)), filepath.Base(dir)
		} else if d, err := ruleset.Digest(os.DirFS(filepath.Join(dir, "files"))); err != nil || d != e.Digest {
			e.Problem = "the stored files do not have the recorded digest"
		} else {
			e.Intact = true
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Published.Before(out[j].Published)
	})
	return out, nil
}

func readRecord(path string, keys *cert.KeySet, e *Entry) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	obj, err := jose.ParseSigned(strings.TrimSpace(string(data)), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(obj.Signatures) != 1 {
		return errors.New("record.jws is not a single-signature JWS")
	}
	// The registry's keys also sign certificates and revocation lists;
	// typ keeps one of those from standing in for a record.
	if typ, _ := obj.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string); typ != RecordType {
		return fmt.Errorf("record.jws has typ %q, not %q", typ, RecordType)
	}
	kid := obj.Signatures[0].Header.KeyID
	var body []byte
	if keys != nil {
		pk, ok := keys.Lookup(kid)
		if !ok {
			return fmt.Errorf("record signed with key %q, which is not in the key set", kid)
		}
		if body, err = obj.Verify(pk.Key); err != nil {
			return errors.New("record signature does not verify")
		}
		e.Verified = true
	} else {
		body = obj.UnsafePayloadWithoutVerification()
	}
	if err := json.Unmarshal(body, &e.Record); err != nil {
		return fmt.Errorf("record: %v", err)
	}
	if e.KeyID != kid {
		return errors.New("record names another key than the one that signed it")
	}
	return nil
}

// Lookup finds one published version and checks it as List does: with
// keys, the record's signature must verify; the stored files must still
// have the recorded digest. Files(e) is then the rule set's directory.
func (r *Registry) Lookup(id, version string, keys *cert.KeySet) (Entry, error) {
	if !safeName(id) || !safeName(version) {
		return Entry{}, fmt.Errorf("publish: %q@%q is not a rule-set id and version", id, version)
	}
	dir := filepath.Join(r.Dir, id, version)
	p := filepath.Join(dir, "record.jws")
	if _, err := os.Stat(p); err != nil {
		return Entry{}, fmt.Errorf("publish: %s@%s is not published in %s", id, version, r.Dir)
	}
	e := Entry{Dir: dir}
	if err := readRecord(p, keys, &e); err != nil {
		return Entry{}, fmt.Errorf("%s: %v", p, err)
	}
	if e.ID != id || e.Version != version {
		return Entry{}, fmt.Errorf("%s: the record is for %s@%s", p, e.ID, e.Version)
	}
	if d, err := ruleset.Digest(os.DirFS(Files(e))); err != nil || d != e.Digest {
		return Entry{}, fmt.Errorf("%s: the stored files do not have the recorded digest %s", Files(e), e.Digest)
	}
	e.Intact = true
	return e, nil
}

// Files is the directory that holds a published version's rule set.
func Files(e Entry) string { return filepath.Join(e.Dir, "files") }
