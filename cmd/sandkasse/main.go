// Command sandkasse is the FHIR R4 conformance validator and sandbox. main
// only wires the process to run; each subcommand lives in its own file and
// returns its exit code, so tests drive them with captured output.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}
