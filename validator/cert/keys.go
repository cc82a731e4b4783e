package cert

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/validator/readlimit"
)

// Limits on key material read from files or the network: a JWKS is small, and
// a caller that fetches one by URL should not have to trust its size.
const (
	MaxKeySetBytes = 1 << 20
	MaxKeys        = 64
	maxKeyFile     = 64 << 10
)

// SigningKey is an Ed25519 private key with its key id. Its fields are
// unexported and it formats, logs and marshals as its key id only, so a
// private key cannot leak through a log line or an error.
type SigningKey struct {
	id string
	// Behind a pointer, so even fmt's raw printing of a SigningKey value
	// nested in another struct (where String is not called) shows an
	// address, not key bytes.
	sec *secretKey
}

type secretKey struct{ priv ed25519.PrivateKey }

// GenerateKey makes a new signing key whose id is its RFC 7638 thumbprint.
// A nil rand means crypto/rand.
func GenerateKey(r io.Reader) (*SigningKey, error) {
	if r == nil {
		r = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, err
	}
	return NewSigningKey(priv, "")
}

// NewSigningKey wraps an Ed25519 private key. An empty kid means the RFC 7638
// thumbprint of the public key, so the same key always gets the same id.
func NewSigningKey(priv ed25519.PrivateKey, kid string) (*SigningKey, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("cert: not an Ed25519 private key")
	}
	if kid == "" {
		var err error
		if kid, err = Thumbprint(priv.Public().(ed25519.PublicKey)); err != nil {
			return nil, err
		}
	}
	if !isIDString(kid) || len(kid) > 128 {
		return nil, errors.New("cert: key id must be 1-128 characters of A-Z a-z 0-9 . _ : / -")
	}
	return &SigningKey{id: kid, sec: &secretKey{priv: append(ed25519.PrivateKey(nil), priv...)}}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of an Ed25519 public key,
// base64url without padding.
func Thumbprint(pub ed25519.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// ID is the key id ("kid") the key signs under.
func (k *SigningKey) ID() string { return k.id }

// Public is the verification half, for a [KeySet].
func (k *SigningKey) Public() PublicKey {
	return PublicKey{ID: k.id, Key: k.sec.priv.Public().(ed25519.PublicKey)}
}

// The printing methods have value receivers so that a SigningKey value, not
// only a pointer, prints as its id.

func (k SigningKey) String() string   { return "cert.SigningKey{kid: " + k.id + "}" }
func (k SigningKey) GoString() string { return k.String() }

// LogValue keeps slog from reaching into the key.
func (k SigningKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON refuses: writing a private key is an explicit act
// ([WriteSigningKey]), never a side effect of encoding a struct that holds one.
func (k SigningKey) MarshalJSON() ([]byte, error) {
	return nil, errors.New("cert: a signing key is not serialised implicitly; use WriteSigningKey")
}

// KeyFormat is the file format of a private key.
type KeyFormat int

const (
	// PEM is PKCS #8 "PRIVATE KEY", readable by openssl; the key id is the
	// thumbprint because PEM has nowhere standard to keep another.
	PEM KeyFormat = iota
	// JWK is a private JSON Web Key (with "d"), which keeps any key id.
	JWK
)

// WriteSigningKey writes the private key to a new file with mode 0600. It
// refuses to overwrite an existing file: replacing a signing key by accident
// would strand every certificate signed with it.
func WriteSigningKey(path string, k *SigningKey, format KeyFormat) error {
	var data []byte
	switch format {
	case PEM:
		if tp, _ := Thumbprint(k.sec.priv.Public().(ed25519.PublicKey)); tp != k.id {
			return errors.New("cert: a PEM key file cannot keep a key id other than the thumbprint; use JWK")
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.sec.priv)
		if err != nil {
			return err
		}
		data = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	case JWK:
		var err error
		data, err = json.Marshal(jose.JSONWebKey{Key: k.sec.priv, KeyID: k.id, Algorithm: string(jose.EdDSA), Use: "sig"})
		if err != nil {
			return err
		}
		data = append(data, '\n')
	default:
		return fmt.Errorf("cert: unknown key format %d", format)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// LoadSigningKey reads a private key file written by [WriteSigningKey] (or by
// openssl genpkey -algorithm ed25519).
func LoadSigningKey(path string) (*SigningKey, error) {
	data, err := readlimit.File(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := ParseSigningKey(data)
	if err != nil {
		// The path helps; the content must not appear.
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseSigningKey reads a PEM PKCS #8 Ed25519 key or a private Ed25519 JWK.
// Errors never quote the input.
func ParseSigningKey(data []byte) (*SigningKey, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(trimmed, &jwk); err != nil {
			return nil, errors.New("cert: not a valid JWK")
		}
		priv, ok := jwk.Key.(ed25519.PrivateKey)
		if !ok {
			return nil, errors.New("cert: the JWK is not an Ed25519 private key")
		}
		if jwk.Algorithm != "" && jwk.Algorithm != string(jose.EdDSA) {
			return nil, errors.New("cert: the JWK's alg is not EdDSA")
		}
		return NewSigningKey(priv, jwk.KeyID)
	}
	block, rest := pem.Decode(trimmed)
	if block == nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("cert: expected one PEM block or a JWK")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("cert: PEM block is %q, want \"PRIVATE KEY\" (PKCS #8)", block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("cert: not a PKCS #8 private key")
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("cert: the PEM key is not Ed25519")
	}
	return NewSigningKey(priv, "")
}

// PublicKey is a verification key with its id.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// KeySet is the set of public keys certificates verify against. During a
// rotation it holds the new key and the old ones until they are retired;
// retiring a key invalidates every certificate signed with it.
type KeySet struct {
	keys []PublicKey // sorted by id, so the JWKS has one spelling
}

// NewKeySet makes a key set; ids must be unique.
func NewKeySet(keys ...PublicKey) (*KeySet, error) {
	s := &KeySet{}
	for _, k := range keys {
		if err := s.Add(k); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add puts a key in the set.
func (s *KeySet) Add(k PublicKey) error {
	if len(k.Key) != ed25519.PublicKeySize {
		return errors.New("cert: not an Ed25519 public key")
	}
	if k.ID == "" || !isIDString(k.ID) || len(k.ID) > 128 {
		return errors.New("cert: key id must be 1-128 characters of A-Z a-z 0-9 . _ : / -")
	}
	if _, dup := s.Lookup(k.ID); dup {
		return fmt.Errorf("cert: key id %q is already in the set", k.ID)
	}
	if len(s.keys) >= MaxKeys {
		return fmt.Errorf("cert: a key set holds at most %d keys", MaxKeys)
	}
	s.keys = append(s.keys, PublicKey{ID: k.ID, Key: append(ed25519.PublicKey(nil), k.Key...)})
	sort.Slice(s.keys, func(i, j int) bool { return s.keys[i].ID < s.keys[j].ID })
	return nil
}

// Retire removes a key; it reports whether the key was there.
func (s *KeySet) Retire(kid string) bool {
	for i, k := range s.keys {
		if k.ID == kid {
			s.keys = append(s.keys[:i], s.keys[i+1:]...)
			return true
		}
	}
	return false
}

// Lookup finds a key by id.
func (s *KeySet) Lookup(kid string) (PublicKey, bool) {
	if s == nil {
		return PublicKey{}, false
	}
	for _, k := range s.keys {
		if k.ID == kid {
			return k, true
		}
	}
	return PublicKey{}, false
}

// IDs lists the key ids in order.
func (s *KeySet) IDs() []string {
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.ID
	}
	return ids
}

// Len is the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

// MarshalJSON writes a standard JWKS (RFC 7517 §5): {"keys":[...]}, each an
// OKP/Ed25519 key with kid, "use":"sig" and "alg":"EdDSA". This is the value
// for GET /.well-known/jwks.json.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key, KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return json.Marshal(set)
}

// UnmarshalJSON reads a JWKS strictly; see [ParseKeySet].
func (s *KeySet) UnmarshalJSON(data []byte) error {
	ks, err := ParseKeySet(data)
	if err != nil {
		return err
	}
	*s = *ks
	return nil
}

// ParseKeySet reads a JWKS. Every key must be a public OKP Ed25519 key with a
// kid, and "alg"/"use" when present must say EdDSA/sig: a set that mixes in
// other keys, or carries private material, is refused rather than filtered,
// because it is a sign that the wrong file is being published or trusted.
func ParseKeySet(data []byte) (*KeySet, error) {
	if len(data) > MaxKeySetBytes {
		return nil, fmt.Errorf("cert: JWKS larger than %d bytes", MaxKeySetBytes)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, errors.New("cert: not a JWKS (want a JSON object with a \"keys\" array)")
	}
	if raw.Keys == nil {
		return nil, errors.New("cert: not a JWKS (no \"keys\" array)")
	}
	s := &KeySet{}
	for i, rk := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(rk, &jwk); err != nil {
			return nil, fmt.Errorf("cert: JWKS key %d: %v", i, err)
		}
		if !jwk.IsPublic() {
			return nil, fmt.Errorf("cert: JWKS key %d holds private key material; publish only public keys", i)
		}
		pub, ok := jwk.Key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("cert: JWKS key %d is not an Ed25519 (OKP) key", i)
		}
		if jwk.Algorithm != "" && jwk.Algorithm != string(jose.EdDSA) {
			return nil, fmt.Errorf("cert: JWKS key %d has alg %q, want EdDSA", i, jwk.Algorithm)
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			return nil, fmt.Errorf("cert: JWKS key %d has use %q, want sig", i, jwk.Use)
		}
		if jwk.KeyID == "" {
			return nil, fmt.Errorf("cert: JWKS key %d has no kid", i)
		}
		if err := s.Add(PublicKey{ID: jwk.KeyID, Key: pub}); err != nil {
			return nil, fmt.Errorf("cert: JWKS key %d: %v", i, err)
		}
	}
	return s, nil
}

// LoadKeySet reads a JWKS file.
func LoadKeySet(path string) (*KeySet, error) {
	data, err := readlimit.File(path, MaxKeySetBytes)
	if err != nil {
		return nil, err
	}
	s, err := ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
