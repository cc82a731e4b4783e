package main

import (
	"context"
	"fmt"
	goio "io"
	"os"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/synth"
)

const synthSynopsis = "[--seed S] [--patients N] [--days D] [--start YYYY-MM-DD] [--format ndjson|bundle] [--bundle-type transaction|collection] [--out FILE]\n\n" +
	"Writes a deterministic synthetic Norwegian population (same flags, same bytes): patients\n" +
	"with synthetic fødselsnummer/D-nummer, GPs, nurses, organisations, chronic conditions with\n" +
	"medication, allergies, self-treatment plans and municipal services, and D days of home\n" +
	"measurements with alerts and questionnaire responses. Every resource carries the HTEST\n" +
	"security label."

func runSynth(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("synth", synthSynopsis, io.err)
	seed := fs.Uint64("seed", 1, "seed: the same seed and flags give byte-identical output")
	patients := fs.Int("patients", 10, "number of patients")
	days := fs.Int("days", synth.DefaultDays, "days of home measurements")
	start := fs.String("start", synth.DefaultStart.Format(time.DateOnly), "first day of home measurements (YYYY-MM-DD, Europe/Oslo)")
	format := fs.String("format", "ndjson", "output format: ndjson (one resource a line) or bundle (one Bundle)")
	bundleType := fs.String("bundle-type", synth.BundleTransaction, "Bundle.type with --format bundle: transaction or collection")
	out := fs.String("out", "-", "output file (- for standard output)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintln(io.err, "sandkasse synth: takes no arguments, only flags")
		fs.Usage()
		return exitUsage
	}
	day, err := time.Parse(time.DateOnly, *start)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse synth: --start must be a date, YYYY-MM-DD")
		return exitUsage
	}
	opts := synth.Options{Seed: *seed, Patients: *patients, Days: *days,
		Start: time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, time.UTC)}
	var write func(w goio.Writer) error
	switch *format {
	case "ndjson":
		write = func(w goio.Writer) error { return synth.WriteNDJSON(ctx, w, opts) }
	case "bundle":
		write = func(w goio.Writer) error { return synth.WriteBundle(ctx, w, opts, *bundleType) }
	default:
		fmt.Fprintf(io.err, "sandkasse synth: unknown --format %q (want ndjson or bundle)\n", *format)
		return exitUsage
	}
	if *out == "-" {
		if err := write(io.out); err != nil {
			fmt.Fprintln(io.err, "sandkasse synth:", err)
			return exitUsage
		}
		return exitOK
	}
	// Write beside the target and rename, so a failed run leaves no
	// half-written file under the name asked for.
	f, err := os.CreateTemp(dirOf(*out), ".synth-*")
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse synth:", err)
		return exitUsage
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), *out)
	}
	if err != nil {
		os.Remove(f.Name())
		fmt.Fprintln(io.err, "sandkasse synth:", err)
		return exitUsage
	}
	return exitOK
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return "."
}
