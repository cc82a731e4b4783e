package suitereport

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/sandkasse/sandkasse/validator/suite"
)

func renderText(w io.Writer, r *Report) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "%s %s: %s\n", strings.ToUpper(r.Suite.ID), r.Suite.Version, r.Suite.Title)
	fmt.Fprintf(b, "app: %s\nrule set: %s %s", appLine(r), r.RuleSet.ID, r.RuleSet.Version)
	if r.RuleSet.Digest != "" {
		fmt.Fprintf(b, " (%s)", r.RuleSet.Digest)
	}
	fmt.Fprintln(b)
	for _, g := range r.Groups {
		fmt.Fprintf(b, "\n%-5s %s%s\n", g.Outcome, g.Title, optional(g.Optional))
		for _, t := range g.Tests {
			fmt.Fprintf(b, "  %-5s %s [%s]%s %s\n", t.Outcome, t.ID, strings.Join(t.Requirements, ", "), optional(t.Optional), t.Title)
			if t.Outcome != suite.Pass || len(t.Findings) > 0 {
				fmt.Fprintf(b, "        %s\n", t.Message)
			}
			for _, f := range t.Findings {
				fmt.Fprintf(b, "        %s %s", f.Severity, f.RuleID)
				if f.Location != "" {
					fmt.Fprintf(b, " at %s", f.Location)
				}
				fmt.Fprintf(b, " in %s: %s\n", f.Evidence, f.Message)
				if f.Fix != "" {
					fmt.Fprintf(b, "          fix: %s\n", f.Fix)
				}
			}
		}
	}
	fmt.Fprintln(b, "\nrequirements:")
	for _, q := range r.Requirements {
		fmt.Fprintf(b, "  %-5s %s %s\n", q.Outcome, q.ID, q.Title)
	}
	c := r.Counts
	fmt.Fprintf(b, "\n%d passed, %d failed, %d skipped, %d omitted, %d errors\n%s\n", c.Pass, c.Fail, c.Skip, c.Omit, c.Error, r.Verdict)
	return b.Flush()
}

func optional(o bool) string {
	if o {
		return " (optional)"
	}
	return ""
}
