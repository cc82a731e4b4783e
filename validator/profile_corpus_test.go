package validator_test

// Agreement with the reference (Java) validator on the `profile` steps of the
// fhir-test-cases subset: each such case is validated again against
// profile.source (with profile.supporting loaded), and the verdict is
// compared with profile.java. The base-step helpers are in corpus_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/profile"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// profileAgreementFloor is the verdict agreement the issue demands on the
// profile steps. Do not lower it to make the test pass.
const profileAgreementFloor = 0.85

type ftcProfileStep struct {
	Source     string          `json:"source"`
	Supporting []string        `json:"supporting"`
	Java       json.RawMessage `json:"java"`
}

// loadConformance loads a JSON or FHIR XML conformance resource file.
func loadConformance(reg *spec.Registry, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(path, ".xml") {
		if data, err = profile.XMLToJSON(reg, data); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	if _, err := reg.LoadJSON(path, data); err != nil {
		return "", err
	}
	var h struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(data, &h)
	return h.URL, nil
}

func runProfileSteps(ctx context.Context, dir string) (*ftcReport, error) {
	cases, err := loadFTCManifest(dir)
	if err != nil {
		return nil, err
	}
	rep := &ftcReport{}
	for _, c := range cases {
		raw, ok := c.Extra["profile"]
		if !ok {
			continue
		}
		var step ftcProfileStep
		if err := json.Unmarshal(raw, &step); err != nil {
			return nil, fmt.Errorf("case %s: profile: %w", c.Name, err)
		}
		exp, err := expectedFor(dir, ftcCase{Name: c.Name, Java: step.Java})
		if err != nil {
			return nil, err
		}
		reg := r4.NewRegistry()
		var notes []string
		files := append(append(append([]string(nil), c.Supporting...), c.Profiles...), step.Supporting...)
		for _, f := range files {
			if _, err := loadConformance(reg, filepath.Join(dir, f)); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					notes = append(notes, f+": not in the corpus subset")
				} else {
					notes = append(notes, f+": "+short(err.Error(), 70))
				}
			}
		}
		url, err := loadConformance(reg, filepath.Join(dir, step.Source))
		if err != nil {
			notes = append(notes, step.Source+": "+short(err.Error(), 70))
		}
		opts := validator.Options{Registry: reg, Profiles: []string{url},
			SecurityChecks: string(c.Extra["security-checks"]) == "true"}
		opts.Limits.AllowComments = string(c.Extra["allow-comments"]) == "true"
		v, err := validator.New(opts)
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.Name, err)
		}
		data, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.Name, err)
		}
		res := v.Validate(ctx, data)
		row := ftcRow{Name: c.Name, Module: c.Module, File: c.File, ExpInvalid: exp.Invalid, Invalid: res.Issues.HasErrors(),
			ExpErrors: exp.ErrorCount, OurErrors: res.Issues.Count(issue.Error), OurFirst: firstOurError(res.Issues), Notes: notes}
		if len(exp.Errors) > 0 {
			row.ExpFirst = strings.Join(exp.Errors[0].Expressions, ",") + " " + exp.Errors[0].Text
		}
		ours := map[string]bool{}
		for _, is := range res.Issues {
			if is.Severity >= issue.Error && is.Expression != "" {
				ours[normaliseExpression(is.Expression)] = true
			}
		}
		for _, e := range exp.Errors {
			row.LocTotal++
			for _, x := range e.Expressions {
				if ours[x] {
					row.LocMatched++
					break
				}
			}
		}
		rep.Cases++
		if row.verdictAgrees() {
			rep.VerdictAgree++
		}
		if row.ExpErrors == row.OurErrors {
			rep.CountAgree++
		}
		rep.ExpectedErrors += row.LocTotal
		rep.LocationMatched += row.LocMatched
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

func TestFHIRTestCasesProfileAgreement(t *testing.T) {
	dir := filepath.Join(sharedCorpusDir(), "fhir-test-cases")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Skipf("fhir-test-cases corpus not found at %s: %v", dir, err)
	}
	rep, err := runProfileSteps(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("  %-40s %-8s %-8s %-4s %-4s %-5s %-70s | %s", "case", "expected", "ours", "#exp", "#our", "locs", "first expected error", "our first error")
	for _, r := range rep.Rows {
		mark := " "
		if !r.verdictAgrees() {
			mark = "✗"
		}
		notes := ""
		if len(r.Notes) > 0 {
			notes = "  {" + strings.Join(r.Notes, "; ") + "}"
		}
		t.Logf("%s %-40s %-8s %-8s %-4d %-4d %d/%-3d %-70s | %s%s", mark, r.Name, verdictWord(r.ExpInvalid), verdictWord(r.Invalid),
			r.ExpErrors, r.OurErrors, r.LocMatched, r.LocTotal, short(r.ExpFirst, 70), short(r.OurFirst, 110), notes)
	}
	t.Log(strings.Replace(rep.Summary(), "base validation", "profile steps", 1))
	if rep.Cases == 0 {
		t.Fatal("no profile steps found in the manifest")
	}
	if rep.Verdict() < profileAgreementFloor {
		t.Errorf("verdict agreement %.1f%% is below the floor of %.0f%%", 100*rep.Verdict(), 100*profileAgreementFloor)
	}
}
