// Package tenant creates, lists and resets the isolated sandboxes of
// vendors, and issues and checks their developer tokens.
//
// A tenant is an id, a name, the organisation number of the municipality it
// plays, and the seed of its synthetic population (sandbox/synth): reset
// clears the tenant's resources and writes the same population again, in one
// transaction. A developer token is 32 random bytes; only its SHA-256 is
// stored, so a leaked database does not leak usable tokens.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/synth"
	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// TokenPrefix starts every developer token, so that secret scanners and
// people can tell one apart.
const TokenPrefix = "skdev_"

// DeveloperScopes are what a developer token may do: everything in its
// tenant.
var DeveloperScopes = []string{"system/*.*"}

// Defaults of a tenant's population.
const (
	DefaultPatients = 10
	DefaultDays     = 14
	DefaultTokenTTL = 365 * 24 * time.Hour
)

// Options configure a Service.
type Options struct {
	Store store.Store
	// Patients and Days size the seeded population (0: the defaults).
	Patients, Days int
	// TokenTTL is the lifetime of developer tokens (0: DefaultTokenTTL).
	TokenTTL time.Duration
	Now      func() time.Time
	// Seed, when not zero, seeds the n-th tenant created by this Service
	// with Seed+n instead of a random number, so that tests see the same
	// data on every run while each tenant's ids still differ.
	Seed uint64
}

// Service manages tenants. It implements auth.Authenticator for developer
// tokens.
type Service struct {
	st       store.Store
	patients int
	days     int
	ttl      time.Duration
	now      func() time.Time
	seed0    uint64
	created  atomic.Uint64

	mu    sync.Mutex
	cache map[string]cached

	knownMu sync.Mutex
	known   map[string]time.Time // tenant id → when the store last had it
}

// Bounds of the cache of tenants known to exist (Known).
const (
	// KnownFor is how long a tenant found in the store counts as existing
	// without asking again. A tenant gone from the store (deleted by
	// another instance, a store restored from a backup) stops counting at
	// most this long after; a new one counts from its first request, since
	// a miss is never cached.
	KnownFor = time.Minute
	// MaxKnown is how many tenant ids the cache holds; past it, expired
	// entries go, and if none has expired, all do.
	MaxKnown = 4096
	// maxIDLen: no id this long was ever made, so the store is not asked.
	maxIDLen = 128
)

type cached struct {
	tok store.Token
	at  time.Time
}

// cacheFor is how long a token lookup is reused; tokens are not revoked
// yet, and expiry is checked on every use regardless.
const cacheFor = 10 * time.Second

// New returns the tenant service.
func New(o Options) *Service {
	s := &Service{st: o.Store, patients: o.Patients, days: o.Days, ttl: o.TokenTTL, now: o.Now, seed0: o.Seed, cache: map[string]cached{},
		known: map[string]time.Time{}}
	if s.patients <= 0 {
		s.patients = DefaultPatients
	}
	if s.days <= 0 {
		s.days = DefaultDays
	}
	if s.ttl <= 0 {
		s.ttl = DefaultTokenTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Created is a new tenant with its first developer token (shown once).
type Created struct {
	Tenant store.Tenant
	Token  string
}

// ErrInvalid is a refused name or organisation number.
var ErrInvalid = errors.New("tenant: invalid")

// CheckOrg refuses what is not an organisation number: 9 digits whose last
// is the mod-11 control digit over the first eight (Enhetsregisteret). The
// tenant's number is the municipality its mock VKP answers for, and the
// dho-vkp rules refuse a request addressed to an invalid one, so a tenant
// made with one could never pass its own suite.
func CheckOrg(org string) error {
	switch nationalid.CheckOrgNumber(org) {
	case nationalid.OK:
		return nil
	case nationalid.ReasonControlDigit:
		return fmt.Errorf("%w: organisation number %q fails the mod-11 control digit check (Enhetsregisteret); use a real or synthetic valid number such as 974760673", ErrInvalid, org)
	default:
		if len(org) > 20 {
			return fmt.Errorf("%w: the organisation number must be 9 digits, got %d characters", ErrInvalid, len(org))
		}
		return fmt.Errorf("%w: the organisation number must be 9 digits, got %q", ErrInvalid, org)
	}
}

// Spec is what a tenant is made from.
type Spec struct {
	Name string
	// Org is the municipality the tenant plays (its mock VKP answers for
	// it); VendorOrg the vendor's own organisation number, which the
	// platform's certificates name. Without VendorOrg the tenant can run
	// suites but get no certificate from the platform.
	Org, VendorOrg string
}

// Create makes a tenant with a seeded population and a developer token.
func (s *Service) Create(ctx context.Context, spec Spec) (Created, error) {
	name := strings.TrimSpace(spec.Name)
	if name == "" || len(name) > 200 {
		return Created{}, fmt.Errorf("%w: a name of 1 to 200 characters is required", ErrInvalid)
	}
	org := spec.Org
	if err := CheckOrg(org); err != nil {
		return Created{}, err
	}
	if spec.VendorOrg != "" {
		if err := CheckOrg(spec.VendorOrg); err != nil {
			return Created{}, fmt.Errorf("%w (the vendor's number)", err)
		}
	}
	seed := uint64(0)
	if s.seed0 != 0 {
		seed = s.seed0 + s.created.Add(1)
	} else {
		var b [8]byte
		rand.Read(b[:])
		seed = binary.BigEndian.Uint64(b[:])
	}
	t := store.Tenant{
		ID:        newTenantID(),
		Name:      name,
		Org:       org,
		VendorOrg: spec.VendorOrg,
		Seed:      seed,
		Created:   s.now().UTC().Truncate(time.Millisecond),
	}
	if err := s.st.CreateTenant(ctx, t); err != nil {
		return Created{}, err
	}
	// Seeding and the token finish even if the caller goes away: a
	// tenant without them could never be used, and nothing could repair it.
	ctx = context.WithoutCancel(ctx)
	if err := s.seed(ctx, t); err != nil {
		return Created{}, fmt.Errorf("tenant %s was created but could not be seeded (run tenant reset): %w", t.ID, err)
	}
	tok, err := s.IssueToken(ctx, t.ID, s.ttl)
	if err != nil {
		return Created{}, err
	}
	return Created{Tenant: t, Token: tok}, nil
}

// Reset restores the tenant to its seeded state in one transaction: the
// seeded population is back, everything written since is gone, and so are
// the registered SMART and VKP clients and what was issued to them (codes,
// access tokens, launch contexts). Developer tokens and recorded traffic
// stay.
func (s *Service) Reset(ctx context.Context, id string) error {
	t, err := s.st.Tenant(ctx, id)
	if err != nil {
		return err
	}
	return s.seed(ctx, t)
}

// List returns every tenant.
func (s *Service) List(ctx context.Context) ([]store.Tenant, error) { return s.st.Tenants(ctx) }

// Store is the store the tenants live in; the SMART and HelseID
// authorisation servers keep their registers and grants there too, so that
// Reset clears them with the tenant's resources.
func (s *Service) Store() store.Store { return s.st }

// Get returns one tenant.
func (s *Service) Get(ctx context.Context, id string) (store.Tenant, error) {
	return s.st.Tenant(ctx, id)
}

// Known reports whether a tenant exists, from a small cache of tenants the
// store recently had (KnownFor, MaxKnown). Recorders ask it before storing
// an exchange, so that requests to made-up tenant ids cost a look-up and
// no storage.
func (s *Service) Known(ctx context.Context, id string) (bool, error) {
	if id == "" || len(id) > maxIDLen {
		return false, nil
	}
	now := s.now()
	s.knownMu.Lock()
	at, ok := s.known[id]
	s.knownMu.Unlock()
	if ok && now.Sub(at) < KnownFor && !now.Before(at) {
		return true, nil
	}
	_, err := s.st.Tenant(ctx, id)
	s.knownMu.Lock()
	defer s.knownMu.Unlock()
	if errors.Is(err, store.ErrNotFound) {
		delete(s.known, id)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, ok := s.known[id]; !ok && len(s.known) >= MaxKnown {
		for k, t := range s.known {
			if now.Sub(t) >= KnownFor {
				delete(s.known, k)
			}
		}
		if len(s.known) >= MaxKnown {
			clear(s.known)
		}
	}
	s.known[id] = now
	return true, nil
}

func (s *Service) seed(ctx context.Context, t store.Tenant) error {
	at := s.now()
	return s.st.Update(ctx, t.ID, func(tx store.Tx) error {
		if err := tx.Clear(ctx); err != nil {
			return err
		}
		return synth.Generate(ctx, synth.Options{Seed: t.Seed, Patients: s.patients, Days: s.days}, func(r synth.Resource) error {
			return epr.Import(ctx, tx, r.Type, r.ID, r.JSON, at)
		})
	})
}

func newTenantID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Hash is the stored form of a token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// IssueToken creates a developer token for a tenant.
func (s *Service) IssueToken(ctx context.Context, tenant string, ttl time.Duration) (string, error) {
	if _, err := s.st.Tenant(ctx, tenant); err != nil {
		return "", err
	}
	var b [32]byte
	rand.Read(b[:])
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now().UTC().Truncate(time.Millisecond)
	err := s.st.PutToken(ctx, store.Token{Hash: Hash(tok), Tenant: tenant, Kind: "developer",
		Scopes: DeveloperScopes, Created: now, Expires: now.Add(ttl)})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// Authenticate checks a developer token.
func (s *Service) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	if token == "" {
		return auth.Principal{}, auth.ErrNoToken
	}
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return auth.Principal{}, auth.ErrBadToken
	}
	h := Hash(token)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[h]
	s.mu.Unlock()
	if !ok || now.Sub(c.at) > cacheFor {
		tok, err := s.st.Token(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			return auth.Principal{}, auth.ErrBadToken
		}
		if err != nil {
			return auth.Principal{}, err
		}
		c = cached{tok: tok, at: now}
		s.mu.Lock()
		if len(s.cache) > 10000 {
			clear(s.cache)
		}
		s.cache[h] = c
		s.mu.Unlock()
	}
	if !c.tok.Expires.IsZero() && !now.Before(c.tok.Expires) {
		return auth.Principal{}, auth.ErrExpired
	}
	return auth.Principal{Tenant: c.tok.Tenant, Subject: "developer", Kind: c.tok.Kind, Scopes: c.tok.Scopes}, nil
}

var _ auth.Authenticator = (*Service)(nil)

// Traffic lists a tenant's recorded exchanges.
func (s *Service) Traffic(ctx context.Context, tenant string, after int64, limit int) ([]store.Exchange, error) {
	return s.st.Traffic(ctx, tenant, after, limit)
}
