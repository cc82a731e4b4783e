package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/postgres"
	"github.com/sandkasse/sandkasse/sandbox/store/storetest"
)

// A PostgreSQL server for the tests is found once per test binary:
//
//  1. a Docker engine (dockertest): a throw-away postgres container, purged
//     when the tests end; the engine is pinged first, with a short timeout,
//     so a machine without one (CI here) falls through at once;
//  2. SANDKASSE_TEST_POSTGRES_DSN, the local server .ci/run starts with
//     initdb and pg_ctl when no Docker engine runs;
//  3. otherwise the tests skip, or fail when SANDKASSE_REQUIRE_POSTGRES is
//     set (as .ci/run sets it).
var server struct {
	once      sync.Once
	dsn, from string
	why       []string // why the earlier ways were not taken
	pool      *dockertest.Pool
	container *dockertest.Resource
}

// dockerImage is the image the container runs: the major version the
// deploy/ compose file names.
const dockerImage, dockerTag = "postgres", "16-alpine"

func TestMain(m *testing.M) {
	code := m.Run()
	if server.container != nil {
		server.pool.Purge(server.container)
	}
	os.Exit(code)
}

func findServer() {
	dsn, err := fromDocker()
	if err == nil {
		server.dsn, server.from = dsn, "docker ("+dockerImage+":"+dockerTag+")"
		return
	}
	server.why = append(server.why, "docker: "+err.Error())
	if dsn := os.Getenv("SANDKASSE_TEST_POSTGRES_DSN"); dsn != "" {
		server.dsn, server.from = dsn, "SANDKASSE_TEST_POSTGRES_DSN"
		return
	}
	server.why = append(server.why, "SANDKASSE_TEST_POSTGRES_DSN is not set")
}

// fromDocker starts a postgres container and waits until it answers.
func fromDocker() (string, error) {
	pool, err := dockertest.NewPool("")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err = pool.Client.PingWithContext(ctx)
	cancel()
	if err != nil {
		return "", fmt.Errorf("no engine answers: %w", err)
	}
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
		Repository: dockerImage, Tag: dockerTag,
		Env: []string{"POSTGRES_PASSWORD=sandkasse", "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"},
		Cmd: []string{"postgres", "-c", "fsync=off", "-c", "max_connections=200"},
	}, func(hc *docker.HostConfig) {
		hc.AutoRemove = true
		hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
	})
	if err != nil {
		return "", fmt.Errorf("starting %s:%s: %w", dockerImage, dockerTag, err)
	}
	// A container left behind by a killed test binary goes by itself.
	res.Expire(600)
	server.pool, server.container = pool, res
	dsn := fmt.Sprintf("postgres://postgres:sandkasse@%s/postgres?sslmode=disable", res.GetHostPort("5432/tcp"))
	pool.MaxWait = 60 * time.Second
	if err := pool.Retry(func() error {
		db, err := postgres.OpenRaw(context.Background(), dsn)
		if err != nil {
			return err
		}
		return db.Close()
	}); err != nil {
		return "", fmt.Errorf("the container did not accept connections: %w", err)
	}
	return dsn, nil
}

// testDSN returns the server's DSN, or skips (fails with
// SANDKASSE_REQUIRE_POSTGRES) when there is none.
func testDSN(t *testing.T) string {
	server.once.Do(findServer)
	if server.dsn != "" {
		return server.dsn
	}
	msg := "no PostgreSQL (" + strings.Join(server.why, "; ") + "); bash .ci/run starts a local server"
	if os.Getenv("SANDKASSE_REQUIRE_POSTGRES") != "" {
		t.Fatal("SANDKASSE_REQUIRE_POSTGRES is set but " + msg)
	}
	t.Skip(msg)
	return ""
}

// TestServerSource says which server the suite ran on.
func TestServerSource(t *testing.T) {
	testDSN(t)
	t.Logf("PostgreSQL from %s (%s)", server.from, strings.Join(server.why, "; "))
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
