package postgres_test

import "testing"

// dockerDSN is where a throw-away PostgreSQL container would be started
// (github.com/ory/dockertest/v3) when a Docker engine answers. It is not
// wired yet: no Docker engine runs on the machines this project is built on,
// so the tests use SANDKASSE_TEST_POSTGRES_DSN (.ci/run starts a local
// server).
var dockerDSN = func(t *testing.T) string { return "" }
