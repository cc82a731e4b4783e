package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes are a contract with CI pipelines.
const (
	exitOK       = 0 // ran, and nothing is error or fatal
	exitFindings = 1 // ran, and something is error or fatal
	exitUsage    = 2 // could not run: bad flag, unknown format, unreadable argument
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, io stdio) int
}

func commands() []command {
	return []command{
		{"validate", "validate FHIR R4 JSON resources (files, directories, NDJSON, stdin)", runValidate},
		{"serve", "start the HTTP sandbox with the $validate operation", runServe},
		{"fhirpath", "evaluate a FHIRPath expression, or run a FHIRPath test suite", runFHIRPath},
		{"synth", "write a deterministic synthetic Norwegian patient population (NDJSON or Bundle)", runSynth},
		{"profile", "show a profile's snapshot as a tree (profile show URL)", runProfile},
		{"tenant", "create, list or reset sandbox tenants (tenant create --name N --org ORGNR)", runTenant},
		{"cert", "verify a signed conformance certificate (cert verify CERT --jwks FILE|URL)", runCert},
		{"rules", "check a rule set: Rego tests, manifest, metadata, profiles (rules test DIR)", runRules},
		{"verify", "run a verification suite over recorded traffic (verify --suite FILE --offline DIR)", runVerify},
	}
}

func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 {
		usage(io.err)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(io.out)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], io)
		}
	}
	fmt.Fprintf(io.err, "sandkasse: unknown command %q\n\n", args[0])
	usage(io.err)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sandkasse <command> [flags] [args]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'sandkasse <command> -h' for the flags of a command.")
	fmt.Fprintln(w, "Exit status: 0 no errors, 1 errors found, 2 the tool could not run.")
}

// newFlags returns a flag set that reports to stderr and never exits the
// process itself.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sandkasse %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags placed anywhere among the arguments
// ("validate a.json --format json" as well as "validate --format json a.json"),
// which the flag package alone does not do. After "--" everything is an
// argument. It returns the exit code to use when parsing ends the command:
// exitOK for -h, exitUsage for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (rest []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitUsage, true
		}
		left := fs.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), 0, false
		}
		if len(left) == 0 {
			return rest, 0, false
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
