// Package suitereport is the one report model of a suite run and its
// renderers: text, json, junit (JUnit XML), sarif (SARIF 2.1.0) and html (a
// self-contained page a buyer with no FHIR knowledge can read and print).
// Every renderer reads the same Report; Get returns one by name and an
// unknown name is an error.
package suitereport

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/sandkasse/sandkasse/validator/suite"
)

// Report is a suite run as every renderer sees it.
type Report struct {
	Tool         string              `json:"tool"`
	Generated    time.Time           `json:"generated"`
	App          *App                `json:"app,omitempty"`
	Suite        SuiteInfo           `json:"suite"`
	RuleSet      RuleSetInfo         `json:"ruleset"`
	Outcome      suite.Outcome       `json:"outcome"`
	Verdict      string              `json:"verdict"`
	Counts       Counts              `json:"counts"`
	Requirements []Requirement       `json:"requirements"`
	Groups       []suite.GroupResult `json:"groups"`
	Rules        map[string]Rule     `json:"-"` // rule id → description, for SARIF and HTML
}

// App is what was tested.
type App struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// SuiteInfo names the suite.
type SuiteInfo struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Title   string `json:"title"`
}

// RuleSetInfo names the rule-set release the run was judged against.
type RuleSetInfo struct {
	ID        string `json:"id"`
	Version   string `json:"version"`
	Effective string `json:"effective,omitempty"`
	Digest    string `json:"digest,omitempty"`
}

// Requirement is one requirement and the roll-up of the tests that verify it.
type Requirement struct {
	ID      string        `json:"id"`
	Title   string        `json:"title"`
	Source  string        `json:"source,omitempty"`
	Outcome suite.Outcome `json:"outcome"`
	Tests   []string      `json:"tests"`
}

// Rule describes a policy rule for renderers that list rules.
type Rule struct {
	Title       string
	Requirement string
	Fix         string
}

// Counts is how many tests had each outcome.
type Counts struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Skip  int `json:"skip"`
	Omit  int `json:"omit"`
	Error int `json:"error"`
}

// Meta is what the run's caller knows beyond the result.
type Meta struct {
	Generated    time.Time
	App          *App
	RuleSet      RuleSetInfo
	Requirements []Requirement // id, title, source; outcomes are computed
	Rules        map[string]Rule
}

// New builds the report of one run.
func New(res *suite.Result, m Meta) *Report {
	r := &Report{Tool: "sandkasse", Generated: m.Generated.UTC(), App: m.App, RuleSet: m.RuleSet,
		Suite:   SuiteInfo{ID: res.SuiteID, Version: res.SuiteVersion, Title: res.Title},
		Outcome: res.Outcome, Groups: res.Groups, Rules: m.Rules}
	if r.RuleSet.ID == "" {
		r.RuleSet.ID = res.RuleSet
	}
	for _, t := range res.Tests() {
		switch t.Outcome {
		case suite.Pass:
			r.Counts.Pass++
		case suite.Fail:
			r.Counts.Fail++
		case suite.Skip:
			r.Counts.Skip++
		case suite.Error:
			r.Counts.Error++
		default:
			r.Counts.Omit++
		}
	}
	known := map[string]bool{}
	for _, q := range m.Requirements {
		q.Outcome, q.Tests = res.Requirement(q.ID)
		known[q.ID] = true
		r.Requirements = append(r.Requirements, q)
	}
	// Requirements the tests claim that the caller did not describe.
	var extra []string
	for _, t := range res.Tests() {
		for _, q := range t.Requirements {
			if !known[q] {
				known[q] = true
				extra = append(extra, q)
			}
		}
	}
	sort.Strings(extra)
	for _, q := range extra {
		o, ts := res.Requirement(q)
		r.Requirements = append(r.Requirements, Requirement{ID: q, Title: q, Outcome: o, Tests: ts})
	}
	r.Verdict = verdict(r.Outcome)
	return r
}

func verdict(o suite.Outcome) string {
	switch o {
	case suite.Pass:
		return "PASSED: every required test passed"
	case suite.Fail:
		return "FAILED: at least one required test failed"
	case suite.Skip:
		return "INCOMPLETE: at least one required test had nothing to examine"
	case suite.Error:
		return "NOT COMPLETED: the tool could not run at least one required test"
	default:
		return "NOT APPLICABLE: every test was omitted"
	}
}

// Renderer writes a report in one format.
type Renderer interface {
	Render(w io.Writer, r *Report) error
}

// RenderFunc adapts a function to Renderer.
type RenderFunc func(w io.Writer, r *Report) error

// Render calls f.
func (f RenderFunc) Render(w io.Writer, r *Report) error { return f(w, r) }

// Formats are the names Get accepts.
var Formats = []string{"text", "json", "junit", "sarif", "html"}

// Get returns the renderer for a format name.
func Get(format string) (Renderer, error) {
	switch format {
	case "text":
		return RenderFunc(renderText), nil
	case "json":
		return RenderFunc(renderJSON), nil
	case "junit":
		return RenderFunc(renderJUnit), nil
	case "sarif":
		return RenderFunc(renderSARIF), nil
	case "html":
		return RenderFunc(renderHTML), nil
	}
	return nil, fmt.Errorf("unknown report format %q (text, json, junit, sarif or html)", format)
}

// failing lists a test's findings at error severity or above first; the
// runner already sorts them that way.
func appLine(r *Report) string {
	if r.App == nil || r.App.Name == "" {
		return "(unnamed app)"
	}
	if r.App.Version == "" {
		return r.App.Name
	}
	return r.App.Name + " " + r.App.Version
}
