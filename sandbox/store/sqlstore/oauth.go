package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// --- registered clients and issued grants (store.OAuth) ------------------

// PutClient replaces a registered client, or adds it while the tenant has
// fewer than store.MaxClients of its kind. On PostgreSQL two registrations
// racing for the last place may both get in (READ COMMITTED): the bound is
// against a register growing without end, not an exact quota.
func (db *DB) PutClient(ctx context.Context, c store.Client) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	body := nonNil(c.Body)
	res, err := tx.ExecContext(ctx, db.bind(`UPDATE clients SET body = ? WHERE tenant = ? AND kind = ? AND id = ?`),
		body, c.Tenant, c.Kind, c.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: put client: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		var count int
		if err := tx.QueryRowContext(ctx, db.bind(`SELECT COUNT(*) FROM clients WHERE tenant = ? AND kind = ?`),
			c.Tenant, c.Kind).Scan(&count); err != nil {
			return err
		}
		if count >= store.MaxClients {
			return store.ErrLimit
		}
		if _, err := tx.ExecContext(ctx, db.bind(`INSERT INTO clients (tenant, kind, id, body) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant, kind, id) DO UPDATE SET body = excluded.body`), c.Tenant, c.Kind, c.ID, body); err != nil {
			return fmt.Errorf("sqlstore: put client: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, db.bind(`DELETE FROM client_orgs WHERE tenant = ? AND kind = ? AND client = ?`),
		c.Tenant, c.Kind, c.ID); err != nil {
		return err
	}
	orgs := slices.Clone(c.Orgs)
	slices.Sort(orgs)
	for _, o := range slices.Compact(orgs) {
		if _, err := tx.ExecContext(ctx, db.bind(`INSERT INTO client_orgs (tenant, kind, org, client) VALUES (?, ?, ?, ?)`),
			c.Tenant, c.Kind, o, c.ID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (db *DB) Client(ctx context.Context, tenant, kind, id string) (store.Client, error) {
	c := store.Client{Tenant: tenant, Kind: kind, ID: id}
	err := db.r.QueryRowContext(ctx, db.bind(`SELECT body FROM clients WHERE tenant = ? AND kind = ? AND id = ?`),
		tenant, kind, id).Scan(&c.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Client{}, store.ErrNotFound
	}
	if err != nil {
		return store.Client{}, err
	}
	rows, err := db.r.QueryContext(ctx, db.bind(`SELECT org FROM client_orgs WHERE tenant = ? AND kind = ? AND client = ? ORDER BY org`),
		tenant, kind, id)
	if err != nil {
		return store.Client{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return store.Client{}, err
		}
		c.Orgs = append(c.Orgs, o)
	}
	return c, rows.Err()
}

func (db *DB) ClientsForOrg(ctx context.Context, tenant, kind, org string) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, db.bind(`SELECT client FROM client_orgs WHERE tenant = ? AND kind = ? AND org = ? ORDER BY client`),
		tenant, kind, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (db *DB) PutGrant(ctx context.Context, g store.Grant) error {
	res, err := db.w.ExecContext(ctx, db.bind(`INSERT INTO grants (hash, tenant, kind, data, expires_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO NOTHING`), g.Key, g.Tenant, g.Kind, nonNil(g.Data), ms(g.Expires))
	if err != nil {
		return fmt.Errorf("sqlstore: put grant: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrExists
	}
	return nil
}

func (db *DB) grant(ctx context.Context, q querier, key string) (store.Grant, error) {
	g := store.Grant{Key: key}
	var exp int64
	err := q.QueryRowContext(ctx, db.bind(`SELECT tenant, kind, data, expires_ms FROM grants WHERE hash = ?`), key).
		Scan(&g.Tenant, &g.Kind, &g.Data, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Grant{}, store.ErrNotFound
	}
	g.Expires = fromMS(exp)
	return g, err
}

func (db *DB) Grant(ctx context.Context, key string) (store.Grant, error) {
	return db.grant(ctx, db.r, key)
}

// TakeGrant reads the grant, then deletes exactly that row: the delete's
// row count decides which of several racing callers took it.
func (db *DB) TakeGrant(ctx context.Context, tenant, kind, key string) (store.Grant, error) {
	g, err := db.grant(ctx, db.w, key)
	if err != nil {
		return store.Grant{}, err
	}
	if g.Tenant != tenant || g.Kind != kind {
		return store.Grant{}, store.ErrNotFound
	}
	res, err := db.w.ExecContext(ctx, db.bind(`DELETE FROM grants WHERE hash = ? AND tenant = ? AND kind = ?`), key, tenant, kind)
	if err != nil {
		return store.Grant{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.Grant{}, err
	} else if n == 0 {
		return store.Grant{}, store.ErrNotFound
	}
	return g, nil
}

func (db *DB) PruneGrants(ctx context.Context, before time.Time) error {
	_, err := db.w.ExecContext(ctx, db.bind(`DELETE FROM grants WHERE expires_ms < ?`), ms(before))
	return err
}
