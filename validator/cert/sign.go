package cert

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Media types for the JWS "typ" header. Distinct types keep a signed
// revocation list from being accepted as a certificate and vice versa,
// although both are signed with the same keys.
const (
	CertificateType    = "sandkasse-cert+jwt"
	RevocationListType = "sandkasse-revocations+jwt"
)

// Defaults for a [Signer].
const (
	DefaultIssuer   = "sandkasse"
	DefaultValidity = 365 * 24 * time.Hour
)

// Option configures a [Signer] or a [Verifier]; each ignores the options
// that do not concern it.
type Option func(*options)

type options struct {
	issuer      string
	now         func() time.Time
	validity    time.Duration
	testOrgs    map[string]bool
	rand        io.Reader
	revocations *RevocationList
	leeway      time.Duration
	// revocationValidity is how long a signed revocation list is valid.
	revocationValidity time.Duration
}

func newOptions(opts []Option) options {
	o := options{
		issuer:   DefaultIssuer,
		now:      time.Now,
		validity: DefaultValidity,
		testOrgs: map[string]bool{},
		rand:     rand.Reader,

		revocationValidity: DefaultRevocationValidity,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithIssuer sets the "iss" a signer puts in certificates it fills in.
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// WithClock injects the clock (signing time, and the verifier's "now").
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithValidity sets how long a certificate is valid when the payload does
// not say.
func WithValidity(d time.Duration) Option { return func(o *options) { o.validity = d } }

// WithTestOrgNumbers lets the signer accept these organisation numbers
// although they fail mod-11: known test identities such as VKP's 314159265.
func WithTestOrgNumbers(nums ...string) Option {
	return func(o *options) {
		for _, n := range nums {
			o.testOrgs[n] = true
		}
	}
}

// WithRandom sets the source for certificate ids (tests make them
// reproducible).
func WithRandom(r io.Reader) Option { return func(o *options) { o.rand = r } }

// WithRevocations makes the verifier consult a revocation list that the
// caller has verified with [Verifier.VerifyRevocations].
func WithRevocations(l *RevocationList) Option { return func(o *options) { o.revocations = l } }

// WithLeeway tolerates clock skew at both ends of the validity window.
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// Signer issues certificates and revocation lists with one key. To rotate,
// make a Signer with the new key and publish a [KeySet] holding both until
// the old key is retired.
type Signer struct {
	key      *SigningKey
	opts     options
	certJWS  jose.Signer
	revokJWS jose.Signer
}

// NewSigner makes a signer for key.
func NewSigner(key *SigningKey, opts ...Option) (*Signer, error) {
	if key == nil {
		return nil, errors.New("cert: nil signing key")
	}
	s := &Signer{key: key, opts: newOptions(opts)}
	if !isCleanText(s.opts.issuer) || s.opts.issuer == "" {
		return nil, errors.New("cert: the issuer must be non-empty clean text")
	}
	if s.opts.validity <= 0 {
		return nil, errors.New("cert: validity must be positive")
	}
	if d := s.opts.revocationValidity; d < time.Second || d > MaxRevocationValidity {
		return nil, fmt.Errorf("cert: a revocation list's validity must be from 1s to %s", MaxRevocationValidity)
	}
	var err error
	if s.certJWS, err = newJOSESigner(key, CertificateType); err != nil {
		return nil, err
	}
	if s.revokJWS, err = newJOSESigner(key, RevocationListType); err != nil {
		return nil, err
	}
	return s, nil
}

func newJOSESigner(key *SigningKey, typ string) (jose.Signer, error) {
	// The header is exactly alg, kid and typ: no embedded key (EmbedJWK is
	// off), no crit, no b64, which is also all the verifier accepts.
	return jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.sec.priv, KeyID: key.id}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
}

// KeyID is the id of the key this signer signs with.
func (s *Signer) KeyID() string { return s.key.id }

// Sign validates the payload strictly and returns the compact certificate
// and the payload as signed. Sign fills in what the signer owns: KeyID
// and Issuer (each refused if set to another value), an empty ID (a
// random UUID), a zero Issued (now) and a zero Expires (Issued plus the
// validity); times are truncated to whole seconds in UTC.
func (s *Signer) Sign(p Payload) (string, Payload, error) {
	switch p.KeyID {
	case "":
		p.KeyID = s.key.id
	case s.key.id:
	default:
		return "", Payload{}, errors.New("cert: payload names another key id than the signer's")
	}
	if p.ID == "" {
		id, err := newUUID(s.opts.rand)
		if err != nil {
			return "", Payload{}, err
		}
		p.ID = id
	}
	switch p.Issuer {
	case "":
		p.Issuer = s.opts.issuer
	case s.opts.issuer:
	default:
		// One signer, one issuer name: revocation lists are matched to
		// certificates by issuer, so the names must not drift apart.
		return "", Payload{}, errors.New("cert: payload names another issuer than the signer's")
	}
	if p.Issued.IsZero() {
		p.Issued = s.opts.now()
	}
	p.Issued = p.Issued.UTC().Truncate(time.Second)
	if p.Expires.IsZero() {
		p.Expires = p.Issued.Add(s.opts.validity)
	}
	p.Expires = p.Expires.UTC().Truncate(time.Second)
	if err := p.validate(validateRules{testOrgNumbers: s.opts.testOrgs}); err != nil {
		return "", Payload{}, err
	}
	body, err := p.Canonical()
	if err != nil {
		return "", Payload{}, err
	}
	jws, err := s.sign(s.certJWS, body)
	if err != nil {
		return "", Payload{}, err
	}
	return jws, p, nil
}

func (s *Signer) sign(js jose.Signer, body []byte) (string, error) {
	obj, err := js.Sign(body)
	if err != nil {
		return "", fmt.Errorf("cert: signing: %w", err)
	}
	return obj.CompactSerialize()
}

// newUUID returns a random (version 4) UUID: unique without coordination
// between sandbox instances.
func newUUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("cert: certificate id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
