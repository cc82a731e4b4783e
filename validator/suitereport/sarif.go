package suitereport

import (
	"encoding/json"
	"io"
	"sort"

	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// SARIF 2.1.0, written with encoding/json over the schema's fields (no Go
// SARIF library is depended on). One run; one result per finding of a test
// that did not pass or that reported warnings; the FHIRPath location is a
// logical location, the input file the artifact.

const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	ShortDescription *sarifText     `json:"shortDescription,omitempty"`
	Help             *sarifText     `json:"help,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifText     `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

func sarifLevel(s issue.Severity) string {
	switch {
	case s >= issue.Error:
		return "error"
	case s == issue.Warning:
		return "warning"
	default:
		return "note"
	}
}

func renderSARIF(w io.Writer, r *Report) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "sandkasse", InformationURI: "https://github.com/sandkasse/sandkasse",
			Version: r.RuleSet.ID + "@" + r.RuleSet.Version}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: r.Outcome != suite.Error}},
		Results:     []sarifResult{},
		Properties: map[string]any{"suite": r.Suite.ID + "@" + r.Suite.Version, "outcome": r.Outcome.String(),
			"ruleset": r.RuleSet.ID + "@" + r.RuleSet.Version},
	}
	index := map[string]int{}
	var ids []string
	for _, g := range r.Groups {
		for _, t := range g.Tests {
			for _, f := range t.Findings {
				if _, ok := index[f.RuleID]; !ok {
					index[f.RuleID] = -1
					ids = append(ids, f.RuleID)
				}
			}
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		index[id] = i
		rule := sarifRule{ID: id}
		if d, ok := r.Rules[id]; ok {
			rule.ShortDescription = &sarifText{Text: d.Title}
			if d.Fix != "" {
				rule.Help = &sarifText{Text: d.Fix}
			}
			if d.Requirement != "" {
				rule.Properties = map[string]any{"requirement": d.Requirement}
			}
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule)
	}
	if run.Tool.Driver.Rules == nil {
		run.Tool.Driver.Rules = []sarifRule{}
	}
	for _, g := range r.Groups {
		for _, t := range g.Tests {
			for _, f := range t.Findings {
				loc := sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.File}},
					Message: &sarifText{Text: f.Evidence}}
				if f.Location != "" {
					loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Location, Kind: "element"}}
				}
				msg := f.Message
				if f.Fix != "" {
					msg += " Fix: " + f.Fix
				}
				run.Results = append(run.Results, sarifResult{RuleID: f.RuleID, RuleIndex: index[f.RuleID],
					Level: sarifLevel(f.Severity), Message: sarifText{Text: msg}, Locations: []sarifLocation{loc},
					Properties: map[string]any{"test": g.ID + "/" + t.ID, "testOutcome": t.Outcome.String(),
						"requirements": t.Requirements, "optional": t.Optional || g.Optional}})
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}
