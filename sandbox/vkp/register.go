// Package vkp is the mock VKP (velferdsteknologisk knutepunkt, the national
// welfare-technology hub) of a sandbox tenant: a mock HelseID token endpoint
// (client credentials with private_key_jwt), the VKP R4 read API
// (POST {base}/epj/r4/{orgnr}/{resource}/_search over the tenant's mock
// EPR) and journaling of document Bundles into the tenant's mock EPR.
//
// It is framework free: sandbox/api maps its routes to the Server's
// methods, which take an http.ResponseWriter and *http.Request.
//
// The authorisation register (which client, with which public key, may call
// which municipality with which scopes) and the issued access tokens are
// kept in memory, per process: the store has no place for them yet, so a
// restart forgets registered clients and issued tokens.
package vkp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"
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

// Register is the authorisation register of every tenant.
type Register struct {
	mu      sync.RWMutex
	clients map[string]map[string]Client // tenant → client id → client
}

// NewRegister returns an empty register.
func NewRegister() *Register { return &Register{clients: map[string]map[string]Client{}} }

// Put registers (or replaces) a client of a tenant.
func (r *Register) Put(tenant string, c Client) error {
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clients[tenant] == nil {
		r.clients[tenant] = map[string]Client{}
	}
	r.clients[tenant][c.ID] = c
	return nil
}

// Get returns a tenant's client.
func (r *Register) Get(tenant, id string) (Client, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[tenant][id]
	return c, ok
}

// Listed reports whether any client of the tenant is registered for orgnr.
func (r *Register) Listed(tenant, orgnr string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range r.clients[tenant] {
		if slices.Contains(c.Orgs, orgnr) {
			return true
		}
	}
	return false
}

// Reset forgets a tenant's clients.
func (r *Register) Reset(tenant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.clients, tenant)
}
