package suitereport

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/sandkasse/sandkasse/validator/suite"
)

// JUnit XML as CI systems read it: one testsuite per group, one testcase
// per test; fail is <failure>, error is <error>, skip and omit are <skipped>.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func renderJUnit(w io.Writer, r *Report) error {
	out := junitSuites{Name: fmt.Sprintf("%s %s (%s %s)", r.Suite.ID, r.Suite.Version, r.RuleSet.ID, r.RuleSet.Version)}
	for _, g := range r.Groups {
		js := junitSuite{Name: r.Suite.ID + "." + g.ID, Timestamp: r.Generated.Format("2006-01-02T15:04:05Z"),
			Properties: []junitProperty{{"ruleset", r.RuleSet.ID + "@" + r.RuleSet.Version}, {"outcome", g.Outcome.String()}}}
		if r.App != nil {
			js.Properties = append(js.Properties, junitProperty{"app", appLine(r)})
		}
		for _, t := range g.Tests {
			c := junitCase{Name: t.ID + ": " + t.Title, Classname: r.Suite.ID + "." + g.ID}
			details := findingsText(t)
			switch t.Outcome {
			case suite.Fail:
				if t.Optional || g.Optional {
					// Optional tests never fail their parent; CI should not
					// go red on them either.
					c.SystemOut = t.Message + " (optional)\n" + details
				} else {
					c.Failure = &junitMessage{Message: t.Message, Type: "fail", Text: details}
					js.Failures++
				}
			case suite.Error:
				c.Error = &junitMessage{Message: t.Message, Type: "error", Text: details}
				js.Errors++
			case suite.Skip, suite.Omit:
				c.Skipped = &junitMessage{Message: t.Message}
				js.Skipped++
			default:
				c.SystemOut = details
			}
			js.Tests++
			js.Cases = append(js.Cases, c)
		}
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Errors += js.Errors
		out.Skipped += js.Skipped
		out.Suites = append(out.Suites, js)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func findingsText(t suite.TestResult) string {
	var b strings.Builder
	for _, f := range t.Findings {
		fmt.Fprintf(&b, "%s %s", f.Severity, f.RuleID)
		if f.Location != "" {
			fmt.Fprintf(&b, " at %s", f.Location)
		}
		fmt.Fprintf(&b, " in %s: %s\n", f.Evidence, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
		}
	}
	return b.String()
}
