// Package sqlite opens the embedded store: one SQLite file, pure Go
// (modernc.org/sqlite), no server.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so every
// commit is fsynced to the write-ahead log before Update returns: a write that
// was acknowledged survives a crash of the process and of the machine
// (synchronous=NORMAL, the usual WAL setting, survives a process crash but
// may lose the last commits on power loss). The cost is one fsync per write
// transaction; reads do not pay it. Writes go through a single connection
// (SQLite has one writer at a time; queuing in Go beats spinning on
// SQLITE_BUSY) and reads through a pool that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/sandkasse/sandkasse/sandbox/store/sqlstore"
)

// FileName is the database file Open creates in a data directory.
const FileName = "sandkasse.db"

// Open opens (creating when missing) the store in directory dir.
func Open(ctx context.Context, dir string) (*sqlstore.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return OpenFile(ctx, filepath.Join(dir, FileName))
}

// OpenFile opens the store in one database file.
func OpenFile(ctx context.Context, path string) (*sqlstore.DB, error) {
	dsn := func(pragmas ...string) string {
		v := url.Values{}
		for _, p := range pragmas {
			v.Add("_pragma", p)
		}
		v.Add("_pragma", "busy_timeout(10000)")
		// BEGIN IMMEDIATE: a write transaction takes the write lock at its
		// start, so what it reads cannot be outdated by another writer.
		v.Add("_txlock", "immediate")
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + v.Encode()
	}
	w, err := sql.Open("sqlite", dsn("journal_mode(WAL)", "synchronous(FULL)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	db, err := sqlstore.New(ctx, w, r, sqlstore.Dialect{Name: "sqlite", Schema: append(sqlstore.Schema(sqlstore.SQLiteTypes), sqlstore.RunsSchema(sqlstore.SQLiteTypes)...)})
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return db, nil
}
