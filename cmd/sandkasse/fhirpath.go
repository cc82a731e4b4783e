package main

import (
	"context"
	"fmt"
)

// runFHIRPath is wired once validator/fhirpath exposes Compile and its suite
// runner.
func runFHIRPath(ctx context.Context, args []string, io stdio) int {
	fmt.Fprintln(io.err, "sandkasse fhirpath: not available yet")
	return exitUsage
}
