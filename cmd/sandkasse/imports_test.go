package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The engine must stay a library that runs without a server or a database
// (docs/architecture.md): nothing under validator/ may reach sandbox/,
// cmd/, gin, a database driver or the fake-data generator, directly or
// through another package. This test lives at the top of the import graph
// because it is about the whole module.

const module = "github.com/sandkasse/sandkasse"

// forbiddenForEngine are import-path prefixes (or, ending in $, exact
// paths) no validator package may depend on.
var forbiddenForEngine = []string{
	module + "/sandbox",
	module + "/cmd",
	"github.com/gin-gonic/",
	"github.com/brianvoe/gofakeit",
	// The database/sql client; not its driver-interface package
	// database/sql/driver, which common libraries (google/uuid, for its
	// Scanner and Valuer methods) import without any database behind it.
	"database/sql$",
	"modernc.org/sqlite",
	"github.com/mattn/go-sqlite3",
	"github.com/jackc/pgx",
	"github.com/lib/pq",
}

// violations returns "pkg -> dep" for each forbidden dependency, given
// go list lines of the form "pkg dep dep ...".
func violations(listing string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		for _, dep := range fields[1:] {
			for _, bad := range forbiddenForEngine {
				exact, isExact := strings.CutSuffix(bad, "$")
				if (isExact && dep == exact) || (!isExact && strings.HasPrefix(dep, bad)) {
					out = append(out, pkg+" -> "+dep)
				}
			}
		}
		// The finding model is the leaf every other package reports in.
		if pkg == module+"/validator/issue" {
			for _, dep := range fields[1:] {
				if strings.HasPrefix(dep, module+"/") {
					out = append(out, pkg+" -> "+dep+" (issue must import nothing of ours)")
				}
			}
		}
	}
	return out
}

func TestViolationsCatchesForbiddenImports(t *testing.T) {
	listing := module + "/validator/x fmt " + module + "/sandbox/api github.com/gin-gonic/gin\n" +
		module + "/validator/issue fmt " + module + "/validator/spec\n" +
		module + "/validator/ok fmt " + module + "/validator/issue\n" +
		module + "/validator/db database/sql/driver database/sql\n"
	got := violations(listing)
	if len(got) != 4 || got[3] != module+"/validator/db -> database/sql" {
		t.Fatalf("got %d violations, want 4 (the last database/sql, not its driver interfaces): %v", len(got), got)
	}
}

func TestEngineImportsStayInside(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	cmd := exec.Command(goTool, "list", "-e", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"/validator/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(out), module+"/validator ") {
		t.Fatalf("go list did not list the validator package:\n%s", out)
	}
	for _, v := range violations(string(out)) {
		t.Error(v)
	}
}
