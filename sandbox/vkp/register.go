// Package vkp is the mock VKP (velferdsteknologisk knutepunkt, the national
// welfare-technology hub) of a sandbox tenant: a mock HelseID token endpoint
// (client credentials with private_key_jwt), the VKP R4 read API
// (POST {base}/epj/r4/{orgnr}/{resource}/_search over the tenant's mock
// EPR, with GET on the paging links it answers with) and journaling of
// document Bundles into the tenant's mock EPR.
//
// It is framework free: sandbox/api maps its routes to the Server's
// methods, which take an http.ResponseWriter and *http.Request.
//
// The authorisation register (which client, with which public key, may call
// which municipality with which scopes), the issued access tokens and the
// used client assertion ids live in the store (store.OAuth), scoped by
// tenant: API instances hold none of them, a restart forgets nothing, and a
// tenant reset clears them.
package vkp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// ScopePrefix starts every VKP scope: nhn:vkp/api/user/{resource}.{read|write}.
const ScopePrefix = "nhn:vkp/api/user/"

// Scope is the VKP scope of an action (read or write) on a resource type.
func Scope(resource, action string) string {
	return ScopePrefix + strings.ToLower(resource) + "." + action
}

// Client is one registered HelseID client: one system of one vendor for one
// municipality.
type Client struct {
	ID string `json:"client_id"`
	// Key is the client's public key; client assertions are verified with it.
	Key jose.JSONWebKey `json:"jwk"`
	// VKPID is Leverandør_System_Kommune, the vkp-id claim.
	VKPID string `json:"vkp_id"`
	// Orgs are the organisation numbers the client may call (empty: the
	// tenant's own).
	Orgs []string `json:"orgs"`
	// Scopes are the nhn:vkp/api/user/... scopes the client may be granted.
	Scopes []string `json:"scopes"`
}

// ErrInvalidClient is a registration that is refused.
var ErrInvalidClient = errors.New("vkp: invalid client registration")

// Kinds of what the store keeps for the mock VKP.
const (
	kindClient = "vkp"
	kindToken  = "vkp-token"
	kindJTI    = "vkp-jti"
)

// Register is the authorisation register of every tenant, kept in the
// store.
type Register struct{ st store.OAuth }

// NewRegister returns the register kept in st.
func NewRegister(st store.OAuth) *Register { return &Register{st: st} }

// Put registers (or replaces) a client of a tenant.
func (r *Register) Put(ctx context.Context, tenant string, c Client) error {
	if c.ID == "" || len(c.ID) > 200 {
		return fmt.Errorf("%w: client_id of 1 to 200 characters is required", ErrInvalidClient)
	}
	if c.Key.Key == nil || !c.Key.Valid() {
		return fmt.Errorf("%w: a valid jwk is required", ErrInvalidClient)
	}
	if !c.Key.IsPublic() {
		return fmt.Errorf("%w: register the public key only, never the private key", ErrInvalidClient)
	}
	if c.VKPID == "" {
		return fmt.Errorf("%w: vkp_id (Leverandør_System_Kommune) is required", ErrInvalidClient)
	}
	for _, o := range c.Orgs {
		if len(o) != 9 || strings.Trim(o, "0123456789") != "" {
			return fmt.Errorf("%w: organisation numbers are 9 digits", ErrInvalidClient)
		}
	}
	for _, s := range c.Scopes {
		res, act, ok := strings.Cut(strings.TrimPrefix(s, ScopePrefix), ".")
		if !strings.HasPrefix(s, ScopePrefix) || !ok || res == "" || (act != "read" && act != "write") {
			return fmt.Errorf("%w: scopes are nhn:vkp/api/user/{resource}.{read|write}", ErrInvalidClient)
		}
	}
	c.Orgs = slices.Clone(c.Orgs)
	c.Scopes = slices.Clone(c.Scopes)
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("%w: the jwk cannot be stored", ErrInvalidClient)
	}
	err = r.st.PutClient(ctx, store.Client{Tenant: tenant, Kind: kindClient, ID: c.ID, Orgs: c.Orgs, Body: b})
	if errors.Is(err, store.ErrLimit) {
		return fmt.Errorf("%w: the tenant has %d VKP clients already; reset the tenant or replace one", ErrInvalidClient, store.MaxClients)
	}
	return err
}

// Get returns a tenant's client (ok false when it is not registered).
func (r *Register) Get(ctx context.Context, tenant, id string) (c Client, ok bool, err error) {
	sc, err := r.st.Client(ctx, tenant, kindClient, id)
	if errors.Is(err, store.ErrNotFound) {
		return Client{}, false, nil
	}
	if err != nil {
		return Client{}, false, err
	}
	if err := json.Unmarshal(sc.Body, &c); err != nil {
		return Client{}, false, fmt.Errorf("vkp: stored client of tenant %s: %w", tenant, err)
	}
	return c, true, nil
}

// Listed reports whether any client of the tenant is registered for orgnr.
func (r *Register) Listed(ctx context.Context, tenant, orgnr string) (bool, error) {
	ids, err := r.st.ClientsForOrg(ctx, tenant, kindClient, orgnr)
	return len(ids) > 0, err
}
