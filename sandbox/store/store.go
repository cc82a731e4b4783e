// Package store is the persistence of the sandbox behind one interface:
// tenants and their tokens, the FHIR resources of each tenant's mock
// endpoints with their versions and search index, the recorded traffic, and
// the registers and grants of the SMART and HelseID authorisation servers.
//
// The store knows nothing about FHIR beyond what a caller hands it: a
// resource is a type, an id, a version and a body of bytes; what can be
// searched is the list of index entries the caller extracts from the body
// (sandbox/epr does that). Two back ends implement it with the same portable
// SQL (sqlstore): SQLite, embedded, for one process (store/sqlite), and
// PostgreSQL for several stateless instances (store/postgres). Every back end
// must pass the conformance suite in store/storetest.
//
// Every method is scoped by a tenant id; no method reads or writes across
// tenants except the tenant list itself.
package store

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Errors a back end reports; compare with errors.Is.
var (
	// ErrNotFound: no such tenant, token, resource or version.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a write expected another current version (an optimistic
	// lock lost to a concurrent write, or a create of an id that exists).
	ErrConflict = errors.New("store: version conflict")
	// ErrExists: a tenant with that id exists already.
	ErrExists = errors.New("store: already exists")
)

// Store is the persistence of the sandbox. Implementations are safe for
// concurrent use.
type Store interface {
	// CreateTenant adds a tenant (ErrExists when the id is taken).
	CreateTenant(ctx context.Context, t Tenant) error
	// Tenant returns one tenant (ErrNotFound).
	Tenant(ctx context.Context, id string) (Tenant, error)
	// Tenants lists all tenants, oldest first.
	Tenants(ctx context.Context) ([]Tenant, error)

	// PutToken stores a credential by the hash of its secret.
	PutToken(ctx context.Context, t Token) error
	// Token looks a credential up by the hash of its secret (ErrNotFound).
	Token(ctx context.Context, hash string) (Token, error)

	// Read returns the current version of a resource, deleted or not
	// (ErrNotFound when it never existed).
	Read(ctx context.Context, tenant, typ, id string) (Resource, error)
	// ReadVersion returns one version of a resource (ErrNotFound).
	ReadVersion(ctx context.Context, tenant, typ, id string, version int64) (Resource, error)
	// Search returns the current, not deleted resources that match q.
	Search(ctx context.Context, tenant string, q Query) (Page, error)
	// Update runs fn in one transaction over the tenant's resources: either
	// everything fn wrote is committed, or (fn or the commit fails) nothing
	// is. An error returned by a Tx method aborts the transaction; fn must
	// return it. On return without error the writes are durable.
	// Updates of one tenant run one at a time, on every back end and across
	// instances, so that what fn searched is still true when it writes: a
	// conditional create (search, then create when nothing matched) cannot
	// create twice.
	Update(ctx context.Context, tenant string, fn func(Tx) error) error

	// RecordTraffic appends recorded exchanges (the store assigns Seq).
	RecordTraffic(ctx context.Context, xs []Exchange) error
	// Traffic lists a tenant's exchanges with Seq > after, oldest first, at
	// most limit of them.
	Traffic(ctx context.Context, tenant string, after int64, limit int) ([]Exchange, error)
	// PruneTraffic keeps only the newest keep exchanges of a tenant.
	PruneTraffic(ctx context.Context, tenant string, keep int) error

	Runs  // verification runs (runs.go)
	OAuth // registered clients and issued grants (oauth.go)

	Close() error
}

// Tx is one transaction over one tenant's resources.
type Tx interface {
	// Read returns the current version of a resource as the transaction
	// sees it, deleted or not (ErrNotFound).
	Read(ctx context.Context, typ, id string) (Resource, error)
	// Search is Store.Search inside the transaction.
	Search(ctx context.Context, q Query) (Page, error)
	// Put writes r as the new current version of r.Type/r.ID, replacing
	// version prev (0: the resource must not exist at all), keeping the
	// replaced version for ReadVersion, and replacing its index entries. A
	// current version other than prev is ErrConflict. A deleted version is
	// written with Deleted set, no body and no index.
	Put(ctx context.Context, r Resource, index []Index, prev int64) error
	// Clear deletes every resource, version and index entry of the tenant,
	// and its registered clients and issued grants (OAuth): what a reset
	// restores from the seed. The tenant, its developer tokens and its
	// recorded traffic stay.
	Clear(ctx context.Context) error
}

// Tenant is one isolated sandbox of a vendor.
type Tenant struct {
	ID   string
	Name string
	Org  string // the municipality's organisation number it plays
	// VendorOrg is the vendor's own organisation number, the one its
	// certificates name; "" when none was given (then none is issued).
	VendorOrg string
	Seed      uint64 // synthetic population seed, to restore on reset
	Created   time.Time
}

// Token is a stored credential. Only a hash of the secret is stored.
type Token struct {
	Hash    string // hex SHA-256 of the secret
	Tenant  string
	Kind    string   // e.g. "developer"
	Scopes  []string // e.g. "system/*.*"
	Created time.Time
	Expires time.Time // zero: does not expire
}

// Resource is one version of one resource.
type Resource struct {
	Type, ID string
	Version  int64
	Updated  time.Time // stored with millisecond precision
	Deleted  bool
	Body     []byte // the JSON as served, meta.versionId included
}

// Index is one search index entry of a resource: a token or reference
// (System, Value), a normalised string (Value), or a time range [Lo, Hi)
// in Unix milliseconds (IsRange).
type Index struct {
	Param   string
	System  string
	Value   string
	IsRange bool
	Lo, Hi  int64
}

// Query selects resources of one type. Clauses are ANDed.
type Query struct {
	Type    string
	Where   []Clause
	Sort    []SortKey // then by id
	Count   int       // page size; 0 selects none (for a total only)
	Offset  int
	Total   bool     // count every match into Page.Total
	Include []string // index params whose reference targets are returned in Page.Included
	// MaxBytes bounds the bodies a page holds (0: no bound): the rows are
	// read in order until their bodies exceed it, so a page holds at most
	// MaxBytes plus one body, and at least one resource whatever its size
	// (else paging could not go on). A page that stops there before Count
	// resources is Cut, and the next page starts at Offset plus the
	// resources it holds: with the order total (every sort ends with the
	// id), nothing is skipped or repeated.
	MaxBytes int
}

// Clause holds for a resource when one of Any matches one of its index
// entries of Param (or, with Not, when none does). Param "_id" matches the
// id and "_lastUpdated" the time of the current version.
type Clause struct {
	Param string
	Not   bool
	Any   []Cond
}

// CondKind is what a condition compares.
type CondKind uint8

const (
	// MatchExact: Value equals the entry's value (any system).
	MatchExact CondKind = iota
	// MatchToken: System equals (when HasSystem) and Value equals (when Value != "").
	MatchToken
	// MatchPrefix: the entry's value starts with Value.
	MatchPrefix
	// MatchContains: the entry's value contains Value.
	MatchContains
	// MatchRange: the entry's time range compares with [Lo, Hi) by Cmp.
	MatchRange
)

// Cond is one condition on an index entry.
type Cond struct {
	Kind      CondKind
	System    string
	HasSystem bool
	Value     string
	// Cmp is one of eq, ne, lt, le, gt, ge, sa, eb (FHIR date prefixes).
	Cmp    string
	Lo, Hi int64
}

// SortKey orders by a param's smallest value (largest when Desc).
type SortKey struct {
	Param string
	Desc  bool
	Range bool // the param's entries are time ranges
}

// Page is one page of search results.
type Page struct {
	Resources []Resource
	Total     int // when Query.Total, else -1
	Included  []Resource
	Cut       bool // the page stopped at Query.MaxBytes before Count resources
}

// Exchange is one recorded request and its response.
type Exchange struct {
	Seq            int64
	Tenant         string
	At             time.Time
	Duration       time.Duration
	Method         string
	Path           string
	Query          string
	Route          string
	Status         int
	RequestHeader  http.Header
	RequestBody    []byte
	ResponseHeader http.Header
	ResponseBody   []byte
	Truncated      bool // a body was longer than the recorder keeps
}
