package main

import (
	"context"
	"flag"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/postgres"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
)

// DefaultDataDir is where serve and tenant keep the embedded database.
const DefaultDataDir = "sandkasse-data"

// storeFlags are the flags that choose the store: embedded SQLite under
// --data, or PostgreSQL with --database (several instances may share it).
type storeFlags struct {
	data, database *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		data:     fs.String("data", DefaultDataDir, "directory of the embedded SQLite database"),
		database: fs.String("database", "", "PostgreSQL DSN (postgres://…); replaces the embedded database"),
	}
}

func (f storeFlags) open(ctx context.Context) (store.Store, error) {
	if *f.database != "" {
		return postgres.Open(ctx, *f.database)
	}
	return sqlite.Open(ctx, *f.data)
}
