package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/postgres"
	"github.com/sandkasse/sandkasse/sandbox/store/storetest"
)

// testDSN finds a PostgreSQL server: SANDKASSE_TEST_POSTGRES_DSN (set by
// .ci/run, which starts a local server), else the test skips, or fails when
// SANDKASSE_REQUIRE_POSTGRES is set. A dockertest container for machines
// with a Docker engine is not wired: none of the machines this project runs
// on has one.
func testDSN(t *testing.T) string {
	if dsn := os.Getenv("SANDKASSE_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	if os.Getenv("SANDKASSE_REQUIRE_POSTGRES") != "" {
		t.Fatal("SANDKASSE_REQUIRE_POSTGRES is set but SANDKASSE_TEST_POSTGRES_DSN is not")
	}
	t.Skip("no PostgreSQL: set SANDKASSE_TEST_POSTGRES_DSN (bash .ci/run starts a local server)")
	return ""
}

// withSchema puts a test in a schema of its own.
func withSchema(t *testing.T, dsn string) string {
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := postgres.OpenRaw(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), withSchema(t, dsn))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Two instances on one database see each other's writes at once: nothing
// is cached in an instance (stateless API instances).
func TestTwoInstances(t *testing.T) {
	dsn := withSchema(t, testDSN(t))
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = a.Update(ctx, "x", func(tx store.Tx) error {
		return tx.Put(ctx, store.Resource{Type: "Patient", ID: "1", Version: 1, Body: []byte(`{}`)}, nil, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := b.Read(ctx, "x", "Patient", "1"); err != nil || r.Version != 1 {
		t.Fatalf("instance b: %+v %v", r, err)
	}
}
