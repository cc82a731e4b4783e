// Package sqlstore implements store.Store over database/sql with SQL that
// SQLite and PostgreSQL both run: placeholders are written as ? and rebound
// per dialect, upserts use ON CONFLICT, uniqueness is detected by rows
// affected (never by driver error codes), times are BIGINT milliseconds and
// text columns compare bytewise (SQLite's BINARY collation, COLLATE "C" in
// PostgreSQL), so that a prefix is a range on an index in both.
//
// Optimistic locking makes the writes safe across several processes on one
// PostgreSQL: a new version replaces exactly the version the writer read
// (UPDATE … WHERE version = prev), and a create inserts only when the row is
// absent (ON CONFLICT DO NOTHING); losing either race is store.ErrConflict.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// Dialect is what differs between back ends.
type Dialect struct {
	Name string
	// Schema creates the tables when they are missing (idempotent).
	Schema []string
	// Dollar rebinds ? placeholders to $1, $2, … (PostgreSQL).
	Dollar bool
	// LockTenant, when set, is run first in every Update with the tenant id
	// as its argument, to serialise a tenant's updates where the database
	// does not (PostgreSQL's READ COMMITTED lets two transactions both find
	// no match and both create). SQLite needs none: its write transactions
	// begin IMMEDIATE and so run one at a time.
	LockTenant string
}

// DB is a store.Store on database/sql. Writes go to w, reads to r (the
// same pool for PostgreSQL; for SQLite one writer connection and a pool of
// readers, so that writers queue in Go instead of spinning on busy locks).
type DB struct {
	w, r *sql.DB
	d    Dialect
	// rebound queries, by source text
	q map[string]string
}

// New opens the store on the pools, creating the schema.
func New(ctx context.Context, w, r *sql.DB, d Dialect) (*DB, error) {
	db := &DB{w: w, r: r, d: d, q: map[string]string{}}
	for _, s := range d.Schema {
		if _, err := w.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("sqlstore: creating the %s schema: %w", d.Name, err)
		}
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// bind rewrites ? placeholders for the dialect.
func (db *DB) bind(q string) string {
	if !db.d.Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// --- tenants and tokens --------------------------------------------------

func (db *DB) CreateTenant(ctx context.Context, t store.Tenant) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.bind(
		`INSERT INTO tenants (id, name, org, seed, created_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		t.ID, t.Name, t.Org, strconv.FormatUint(t.Seed, 10), ms(t.Created))
	if err != nil {
		return fmt.Errorf("sqlstore: create tenant: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrExists
	}
	if t.VendorOrg != "" {
		if _, err := tx.ExecContext(ctx, db.bind(`INSERT INTO tenant_vendors (tenant, vendor_org) VALUES (?, ?)`), t.ID, t.VendorOrg); err != nil {
			return fmt.Errorf("sqlstore: create tenant: %w", err)
		}
	}
	return tx.Commit()
}

// tenantColumns reads a tenant with its vendor's number ("" when none).
const tenantColumns = `SELECT t.id, t.name, t.org, COALESCE(v.vendor_org, ''), t.seed, t.created_ms
	FROM tenants t LEFT JOIN tenant_vendors v ON v.tenant = t.id`

func scanTenant(sc interface{ Scan(...any) error }) (store.Tenant, error) {
	var t store.Tenant
	var seed string
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Org, &t.VendorOrg, &seed, &created); err != nil {
		return t, err
	}
	t.Seed, _ = strconv.ParseUint(seed, 10, 64)
	t.Created = fromMS(created)
	return t, nil
}

func (db *DB) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx, db.bind(
		tenantColumns+` WHERE t.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	return t, err
}

func (db *DB) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := db.r.QueryContext(ctx, tenantColumns+` ORDER BY t.created_ms, t.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (db *DB) PutToken(ctx context.Context, t store.Token) error {
	_, err := db.w.ExecContext(ctx, db.bind(
		`INSERT INTO tokens (hash, tenant, kind, scopes, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)
		 ON CONFLICT (hash) DO UPDATE SET tenant = excluded.tenant, kind = excluded.kind, scopes = excluded.scopes,
		 created_ms = excluded.created_ms, expires_ms = excluded.expires_ms`),
		t.Hash, t.Tenant, t.Kind, strings.Join(t.Scopes, " "), ms(t.Created), ms(t.Expires))
	return err
}

func (db *DB) Token(ctx context.Context, hash string) (store.Token, error) {
	var t store.Token
	var scopes string
	var created, expires int64
	err := db.r.QueryRowContext(ctx, db.bind(
		`SELECT hash, tenant, kind, scopes, created_ms, expires_ms FROM tokens WHERE hash = ?`), hash).
		Scan(&t.Hash, &t.Tenant, &t.Kind, &scopes, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	if err != nil {
		return t, err
	}
	t.Scopes = strings.Fields(scopes)
	t.Created, t.Expires = fromMS(created), fromMS(expires)
	return t, nil
}

// --- resources ---------------------------------------------------------

const resourceCols = `type, id, version, updated_ms, deleted, body`

func scanResource(sc interface{ Scan(...any) error }) (store.Resource, error) {
	var r store.Resource
	var updated int64
	var deleted int
	var body []byte
	if err := sc.Scan(&r.Type, &r.ID, &r.Version, &updated, &deleted, &body); err != nil {
		return r, err
	}
	r.Updated, r.Deleted = fromMS(updated), deleted != 0
	if len(body) > 0 {
		r.Body = body
	}
	return r, nil
}

func (db *DB) read(ctx context.Context, q querier, tenant, typ, id string) (store.Resource, error) {
	r, err := scanResource(q.QueryRowContext(ctx, db.bind(
		`SELECT `+resourceCols+` FROM resources WHERE tenant = ? AND type = ? AND id = ?`), tenant, typ, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	return r, err
}

func (db *DB) Read(ctx context.Context, tenant, typ, id string) (store.Resource, error) {
	return db.read(ctx, db.r, tenant, typ, id)
}

func (db *DB) ReadVersion(ctx context.Context, tenant, typ, id string, version int64) (store.Resource, error) {
	r, err := db.read(ctx, db.r, tenant, typ, id)
	if err != nil || r.Version == version {
		return r, err
	}
	r, err = scanResource(db.r.QueryRowContext(ctx, db.bind(
		`SELECT `+resourceCols+` FROM history WHERE tenant = ? AND type = ? AND id = ? AND version = ?`),
		tenant, typ, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	return r, err
}

func (db *DB) Search(ctx context.Context, tenant string, q store.Query) (store.Page, error) {
	return db.search(ctx, db.r, tenant, q)
}

func (db *DB) Update(ctx context.Context, tenant string, fn func(store.Tx) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// Rolls back if fn panics; after Commit it does nothing.
	defer sqlTx.Rollback()
	if db.d.LockTenant != "" {
		if _, err := sqlTx.ExecContext(ctx, db.bind(db.d.LockTenant), tenant); err != nil {
			return err
		}
	}
	tx := &tx{db: db, tx: sqlTx, tenant: tenant}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if tx.err != nil {
		sqlTx.Rollback()
		return tx.err
	}
	return sqlTx.Commit()
}

type tx struct {
	db     *DB
	tx     *sql.Tx
	tenant string
	err    error // the first error of a Tx method: the transaction is lost
}

func (t *tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	if t.err != nil {
		return store.Resource{}, t.err
	}
	r, err := t.db.read(ctx, t.tx, t.tenant, typ, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.fail(err)
	}
	return r, err
}

func (t *tx) Search(ctx context.Context, q store.Query) (store.Page, error) {
	if t.err != nil {
		return store.Page{}, t.err
	}
	p, err := t.db.search(ctx, t.tx, t.tenant, q)
	if err != nil {
		t.fail(err)
	}
	return p, err
}

func (t *tx) Put(ctx context.Context, r store.Resource, index []store.Index, prev int64) error {
	if t.err != nil {
		return t.err
	}
	if r.Version <= prev {
		return t.fail(fmt.Errorf("sqlstore: put %s/%s: version %d does not follow %d", r.Type, r.ID, r.Version, prev))
	}
	db, q := t.db, t.tx
	deleted := 0
	body := r.Body
	if r.Deleted {
		deleted, body, index = 1, nil, nil
	}
	if body == nil {
		body = []byte{}
	}
	var res sql.Result
	var err error
	if prev == 0 {
		res, err = q.ExecContext(ctx, db.bind(
			`INSERT INTO resources (tenant, type, id, version, updated_ms, deleted, body) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (tenant, type, id) DO NOTHING`),
			t.tenant, r.Type, r.ID, r.Version, ms(r.Updated), deleted, body)
	} else {
		if _, err = q.ExecContext(ctx, db.bind(
			`INSERT INTO history (tenant, type, id, version, updated_ms, deleted, body)
			 SELECT tenant, type, id, version, updated_ms, deleted, body FROM resources
			 WHERE tenant = ? AND type = ? AND id = ? AND version = ?
			 ON CONFLICT (tenant, type, id, version) DO NOTHING`),
			t.tenant, r.Type, r.ID, prev); err != nil {
			return t.fail(err)
		}
		res, err = q.ExecContext(ctx, db.bind(
			`UPDATE resources SET version = ?, updated_ms = ?, deleted = ?, body = ?
			 WHERE tenant = ? AND type = ? AND id = ? AND version = ?`),
			r.Version, ms(r.Updated), deleted, body, t.tenant, r.Type, r.ID, prev)
	}
	if err != nil {
		return t.fail(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.fail(err)
	} else if n == 0 {
		return t.fail(store.ErrConflict)
	}
	if prev != 0 {
		if _, err := q.ExecContext(ctx, db.bind(
			`DELETE FROM search_index WHERE tenant = ? AND type = ? AND id = ?`), t.tenant, r.Type, r.ID); err != nil {
			return t.fail(err)
		}
	}
	return t.insertIndex(ctx, r, index)
}

// indexBatch bounds the rows of one multi-row INSERT (8 parameters a row;
// SQLite allows 32,766 parameters, PostgreSQL 65,535).
const indexBatch = 200

func (t *tx) insertIndex(ctx context.Context, r store.Resource, index []store.Index) error {
	for len(index) > 0 {
		n := min(len(index), indexBatch)
		var b strings.Builder
		b.WriteString(`INSERT INTO search_index (tenant, type, id, param, sys, val, lo, hi) VALUES `)
		args := make([]any, 0, 8*n)
		for i, e := range index[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			var lo, hi any
			if e.IsRange {
				lo, hi = e.Lo, e.Hi
			}
			args = append(args, t.tenant, r.Type, r.ID, e.Param, e.System, e.Value, lo, hi)
		}
		if _, err := t.tx.ExecContext(ctx, t.db.bind(b.String()), args...); err != nil {
			return t.fail(err)
		}
		index = index[n:]
	}
	return nil
}

func (t *tx) Clear(ctx context.Context) error {
	if t.err != nil {
		return t.err
	}
	for _, table := range []string{"search_index", "history", "resources", "client_orgs", "clients", "grants"} {
		if _, err := t.tx.ExecContext(ctx, t.db.bind(`DELETE FROM `+table+` WHERE tenant = ?`), t.tenant); err != nil {
			return t.fail(err)
		}
	}
	return nil
}

// --- traffic -------------------------------------------------------------

func (db *DB) RecordTraffic(ctx context.Context, xs []store.Exchange) error {
	if len(xs) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := db.bind(`INSERT INTO traffic (tenant, at_ms, duration_us, method, path, query, route, status,
		req_headers, req_body, resp_headers, resp_body, truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	for _, x := range xs {
		rh, _ := json.Marshal(x.RequestHeader)
		sh, _ := json.Marshal(x.ResponseHeader)
		trunc := 0
		if x.Truncated {
			trunc = 1
		}
		if _, err := tx.ExecContext(ctx, q, x.Tenant, ms(x.At), x.Duration.Microseconds(), x.Method, x.Path, x.Query,
			x.Route, x.Status, string(rh), nonNil(x.RequestBody), string(sh), nonNil(x.ResponseBody), trunc); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (db *DB) Traffic(ctx context.Context, tenant string, after int64, limit int) ([]store.Exchange, error) {
	rows, err := db.r.QueryContext(ctx, db.bind(
		`SELECT seq, tenant, at_ms, duration_us, method, path, query, route, status, req_headers, req_body,
		 resp_headers, resp_body, truncated FROM traffic WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?`),
		tenant, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Exchange
	for rows.Next() {
		var x store.Exchange
		var at, dur int64
		var rh, sh string
		var trunc int
		if err := rows.Scan(&x.Seq, &x.Tenant, &at, &dur, &x.Method, &x.Path, &x.Query, &x.Route, &x.Status,
			&rh, &x.RequestBody, &sh, &x.ResponseBody, &trunc); err != nil {
			return nil, err
		}
		x.At, x.Duration, x.Truncated = fromMS(at), time.Duration(dur)*time.Microsecond, trunc != 0
		x.RequestHeader, x.ResponseHeader = http.Header{}, http.Header{}
		json.Unmarshal([]byte(rh), &x.RequestHeader)
		json.Unmarshal([]byte(sh), &x.ResponseHeader)
		out = append(out, x)
	}
	return out, rows.Err()
}

func (db *DB) PruneTraffic(ctx context.Context, tenant string, keep int) error {
	// The seq below which everything goes: the keep-th newest.
	var cut int64
	err := db.r.QueryRowContext(ctx, db.bind(
		`SELECT seq FROM traffic WHERE tenant = ? ORDER BY seq DESC LIMIT 1 OFFSET ?`), tenant, keep).Scan(&cut)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, db.bind(`DELETE FROM traffic WHERE tenant = ? AND seq <= ?`), tenant, cut)
	return err
}

var _ store.Store = (*DB)(nil)
