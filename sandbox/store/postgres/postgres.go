// Package postgres opens the store on PostgreSQL, for several stateless
// sandbox instances sharing one database. The SQL is sqlstore's, the same
// as SQLite runs; only the column types and placeholders differ.
//
// Durability is PostgreSQL's: with the default synchronous_commit=on a
// commit is flushed to the WAL before Update returns.
package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sandkasse/sandkasse/sandbox/store/sqlstore"
)

// schemaLock is the advisory lock id held while creating the schema, so
// that instances starting together do not race on CREATE TABLE.
const schemaLock = 0x73616e646b617373 // "sandkass"

// Open connects with a DSN (postgres://user@host:port/db?sslmode=… or
// key=value form) and creates the schema when missing.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := createSchema(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return sqlstore.New(ctx, db, db, sqlstore.Dialect{Name: "postgres", Dollar: true, LockTenant: lockTenant})
}

// lockTenant takes a transaction-scoped advisory lock on the tenant: the
// first key keeps these locks apart from schemaLock and any other use, the
// second is the tenant id's hash (two tenants sharing a hash only wait for
// each other).
const lockTenant = `SELECT pg_advisory_xact_lock(1936418155, hashtext(?))`

func createSchema(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(schemaLock)); err != nil {
		return fmt.Errorf("postgres: schema lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(schemaLock))
	for _, s := range append(sqlstore.Schema(sqlstore.PostgresTypes), sqlstore.RunsSchema(sqlstore.PostgresTypes)...) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("postgres: creating the schema: %w", err)
		}
	}
	return nil
}

// OpenRaw opens a plain database/sql pool on a DSN, for administration
// (tests create schemas with it).
func OpenRaw(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}
