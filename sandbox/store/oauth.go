package store

import (
	"context"
	"errors"
	"time"
)

// OAuth is the state of the sandbox's authorisation servers (SMART on FHIR
// in sandbox/smart, the mock HelseID of sandbox/vkp): the clients a tenant
// registered and what was issued to them (authorisation codes, access
// tokens, launch contexts, used client assertion ids). It lives in the
// store rather than in an API instance, so that a code issued by one
// instance is redeemed at another and a restart forgets nothing.
//
// Clients are scoped by tenant. A grant is found by its key, the hex SHA-256
// of its secret (the store never holds a usable code or token), and carries
// its tenant, which the caller compares with the tenant it serves, as it
// does for a Token. Tx.Clear removes both, so a tenant reset forgets them.
type OAuth interface {
	// PutClient registers or replaces a client. A tenant holds at most
	// MaxClients of one kind: one more is ErrLimit (replacing is always
	// allowed).
	PutClient(ctx context.Context, c Client) error
	// Client returns one of a tenant's clients of a kind (ErrNotFound).
	Client(ctx context.Context, tenant, kind, id string) (Client, error)
	// ClientsForOrg lists the ids of a tenant's clients of a kind that name
	// org among their Orgs, in id order.
	ClientsForOrg(ctx context.Context, tenant, kind, org string) ([]string, error)

	// PutGrant stores something issued. A key that is taken is ErrExists:
	// recording a client assertion's jti this way catches a replay whichever
	// instance sees it.
	PutGrant(ctx context.Context, g Grant) error
	// Grant looks a grant up by key, expired or not (ErrNotFound): the
	// caller tells an expired grant from an unknown one by its own clock.
	Grant(ctx context.Context, key string) (Grant, error)
	// TakeGrant removes and returns a tenant's grant of a kind. Of callers
	// taking the same grant at once, on any instance, exactly one gets it;
	// the others get ErrNotFound (single use).
	TakeGrant(ctx context.Context, tenant, kind, key string) (Grant, error)
	// PruneGrants deletes every grant that expired before t.
	PruneGrants(ctx context.Context, before time.Time) error
}

// MaxClients bounds the clients of one kind a tenant may register, so that
// a register cannot grow without end.
const MaxClients = 100

// ErrLimit: a tenant reached a bound (MaxClients).
var ErrLimit = errors.New("store: limit reached")

// Client is a registered OAuth client of a tenant.
type Client struct {
	Tenant string
	Kind   string // who owns it: "smart", "vkp"
	ID     string
	// Orgs are organisation numbers the client may call (VKP's
	// authorisation register); ClientsForOrg finds clients by them.
	Orgs []string
	// Body is the registration as its owner encodes it (JSON).
	Body []byte
}

// Grant is one thing an authorisation server issued.
type Grant struct {
	Key     string // hex SHA-256 of the secret (or of the jti's scope)
	Tenant  string
	Kind    string // e.g. "smart-code", "smart-token", "vkp-token", "vkp-jti"
	Data    []byte // what it stands for, as its owner encodes it (JSON)
	Expires time.Time
}
