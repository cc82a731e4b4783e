package postgres_test

import "testing"

// dockerDSN would start a throw-away PostgreSQL container where a Docker
// engine answers; see dockertest_test.go when built with the dockertest tag.
var dockerDSN = func(t *testing.T) string { return "" }
