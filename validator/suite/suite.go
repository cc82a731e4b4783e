// Package suite is the verification-suite model after Inferno: a Suite holds
// Groups, a Group holds Tests, and each Test names the requirement ids it
// verifies, the recorded inputs it examines (exchanges by method and path,
// resources by type), the policy rules that must report no error on them and
// whether the FHIR validator runs on the resources.
//
// Outcomes are pass, fail, skip (no input matched: the app never sent what
// the test examines), omit (not applicable, by the caller's choice) and error
// (the tool broke, not the app). Rollup is the one roll-up rule: only
// required children count, error dominates, then fail, then skip, then pass;
// optional children never fail their parent.
//
// Suite files are YAML, decoded strictly: unknown fields, missing fields,
// duplicate ids and bad patterns are errors, all reported together, each with
// file:line.
//
//	id: dho-journal
//	version: 0.1.0
//	ruleset: dho-vkp
//	title: Journaling to the municipality
//	groups:
//	  - id: documents
//	    title: Journal documents
//	    optional: false
//	    tests:
//	      - id: document-shape
//	        title: The journal note is a document Bundle
//	        requirements: [VKP-JOURNAL]
//	        inputs:
//	          resources: [{type: Bundle}]
//	          exchanges: [{method: POST, path: '/epj/r4/[^/]+/Bundle$'}]
//	        rules: [DHO-DOC-01]
//	        validate: true
package suite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Suite is one verification suite.
type Suite struct {
	ID      string  `yaml:"id" json:"id"`
	Version string  `yaml:"version" json:"version"`
	RuleSet string  `yaml:"ruleset" json:"ruleset"`
	Title   string  `yaml:"title" json:"title"`
	Groups  []Group `yaml:"groups" json:"groups"`

	// File is the name the suite was loaded under, for messages.
	File string `yaml:"-" json:"-"`
}

// Group is a set of tests about one topic.
type Group struct {
	ID       string `yaml:"id" json:"id"`
	Title    string `yaml:"title" json:"title"`
	Optional bool   `yaml:"optional" json:"optional,omitempty"`
	Tests    []Test `yaml:"tests" json:"tests"`

	Line int `yaml:"-" json:"-"`
}

// Test is one check over recorded inputs.
type Test struct {
	ID           string   `yaml:"id" json:"id"`
	Title        string   `yaml:"title" json:"title"`
	Optional     bool     `yaml:"optional" json:"optional,omitempty"`
	Requirements []string `yaml:"requirements" json:"requirements"`
	Inputs       Inputs   `yaml:"inputs" json:"inputs"`
	// Rules are policy rule ids that must report no error on the inputs.
	Rules []string `yaml:"rules" json:"rules,omitempty"`
	// Validate runs the FHIR validator on the resources the test examines.
	Validate bool `yaml:"validate" json:"validate,omitempty"`

	Line  int            `yaml:"-" json:"-"`
	lines map[string]int // field → line
}

// Inputs says which recorded inputs a test examines. A test sees every input
// that any selector matches.
type Inputs struct {
	Exchanges []ExchangeMatch `yaml:"exchanges" json:"exchanges,omitempty"`
	Resources []ResourceMatch `yaml:"resources" json:"resources,omitempty"`
}

// ExchangeMatch selects recorded HTTP exchanges.
type ExchangeMatch struct {
	// Method is the HTTP method (upper case); empty matches any.
	Method string `yaml:"method" json:"method,omitempty"`
	// Path is a regular expression (RE2) searched in the request path;
	// empty matches any.
	Path string `yaml:"path" json:"path,omitempty"`

	re *regexp.Regexp
}

// ResourceMatch selects resources: recorded resource files and the FHIR
// resources in request bodies.
type ResourceMatch struct {
	Type string `yaml:"type" json:"type"` // resourceType, e.g. Bundle
}

// Describe says in words what the selectors look for, for skip messages.
func (in Inputs) Describe() string {
	var parts []string
	for _, e := range in.Exchanges {
		m := e.Method
		if m == "" {
			m = "any"
		}
		p := e.Path
		if p == "" {
			p = "any path"
		} else {
			p = "a path matching " + strconv.Quote(p)
		}
		parts = append(parts, fmt.Sprintf("%s request to %s", m, p))
	}
	for _, r := range in.Resources {
		parts = append(parts, "a "+r.Type+" resource")
	}
	return strings.Join(parts, ", or ")
}

// Problem is one thing wrong with a suite file.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}

// Problems is every problem found; it is the error Parse and Check return.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

var (
	idPattern     = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	reqPattern    = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`)
	typePattern   = regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	semverPattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)
	yamlLineRE    = regexp.MustCompile(`^line (\d+): `)
	methods       = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}
)

// Parse decodes a suite file strictly and checks every value. name is how
// messages refer to the file. The error, when not nil, is Problems.
func Parse(name string, data []byte) (*Suite, error) {
	var ps Problems
	add := func(line int, format string, args ...any) {
		ps = append(ps, Problem{File: name, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	s := &Suite{File: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(s)
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			line := 0
			if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = msg[len(m[0]):]
			}
			msg = strings.NewReplacer("in type suite.Suite", "in the suite", "in type suite.Group", "in a group",
				"in type suite.Test", "in a test", "in type suite.Inputs", "in inputs",
				"in type suite.ExchangeMatch", "in an exchange selector", "in type suite.ResourceMatch", "in a resource selector").Replace(msg)
			add(line, "%s", msg)
		}
	default:
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		if errors.Is(err, io.EOF) || msg == "EOF" {
			msg = "the file is empty"
		}
		add(line, "%s", msg)
		return nil, ps
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil {
		attachLines(s, &doc)
	}
	topLine := func(key string) int { return s.lineOf(&doc, key) }

	req := func(line int, what, v string) bool {
		if strings.TrimSpace(v) == "" {
			add(line, "missing required field %s", what)
			return false
		}
		return true
	}
	if req(0, "id", s.ID) && !idPattern.MatchString(s.ID) {
		add(topLine("id"), "id %q must be lower-case words joined by hyphens", s.ID)
	}
	if req(0, "version", s.Version) && !semverPattern.MatchString(s.Version) {
		add(topLine("version"), "version %q is not a semantic version (MAJOR.MINOR.PATCH)", s.Version)
	}
	if req(0, "ruleset", s.RuleSet) && !idPattern.MatchString(s.RuleSet) {
		add(topLine("ruleset"), "ruleset %q must be a rule-set id (lower-case words joined by hyphens)", s.RuleSet)
	}
	req(0, "title", s.Title)
	if len(s.Groups) == 0 {
		add(topLine("groups"), "a suite needs at least one group")
	}
	groupIDs := map[string]int{}
	testIDs := map[string]int{}
	for gi := range s.Groups {
		g := &s.Groups[gi]
		if req(g.Line, fmt.Sprintf("groups[%d].id", gi), g.ID) {
			if !idPattern.MatchString(g.ID) {
				add(g.Line, "group id %q must be lower-case words joined by hyphens", g.ID)
			} else if l, dup := groupIDs[g.ID]; dup {
				add(g.Line, "group id %q is already used at line %d", g.ID, l)
			}
			groupIDs[g.ID] = g.Line
		}
		req(g.Line, fmt.Sprintf("groups[%d].title", gi), g.Title)
		if len(g.Tests) == 0 {
			add(g.Line, "group %q has no tests", g.ID)
		}
		for ti := range g.Tests {
			t := &g.Tests[ti]
			where := fmt.Sprintf("groups[%d].tests[%d]", gi, ti)
			if req(t.Line, where+".id", t.ID) {
				if !idPattern.MatchString(t.ID) {
					add(t.Line, "test id %q must be lower-case words joined by hyphens", t.ID)
				} else if l, dup := testIDs[t.ID]; dup {
					add(t.Line, "test id %q is already used at line %d", t.ID, l)
				}
				testIDs[t.ID] = t.Line
			}
			req(t.Line, where+".title", t.Title)
			if len(t.Requirements) == 0 {
				add(t.Line, "test %q verifies no requirement (requirements: [ID, …])", t.ID)
			}
			for _, r := range t.Requirements {
				if !reqPattern.MatchString(r) {
					add(t.field("requirements"), "requirement %q must be upper-case words joined by hyphens", r)
				}
			}
			if len(t.Inputs.Exchanges)+len(t.Inputs.Resources) == 0 {
				add(t.field("inputs"), "test %q examines no inputs (inputs: exchanges or resources)", t.ID)
			}
			for i := range t.Inputs.Exchanges {
				e := &t.Inputs.Exchanges[i]
				if e.Method != "" && !methods[e.Method] {
					add(t.field("inputs"), "exchanges[%d]: method %q is not an upper-case HTTP method", i, e.Method)
				}
				if e.Path != "" {
					re, err := regexp.Compile(e.Path)
					if err != nil {
						add(t.field("inputs"), "exchanges[%d]: path is not a regular expression: %v", i, err)
					}
					e.re = re
				}
			}
			for i, r := range t.Inputs.Resources {
				if !typePattern.MatchString(r.Type) {
					add(t.field("inputs"), "resources[%d]: type %q is not a FHIR resource type", i, r.Type)
				}
			}
			if len(t.Rules) == 0 && !t.Validate {
				add(t.Line, "test %q checks nothing (give rules, validate: true or both)", t.ID)
			}
			if len(t.Inputs.Resources) == 0 && t.Validate && !bodiesPossible(t.Inputs) {
				add(t.field("validate"), "validate: true needs resource inputs or exchanges that send bodies")
			}
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return s, nil
}

func bodiesPossible(in Inputs) bool {
	for _, e := range in.Exchanges {
		if e.Method != "GET" && e.Method != "HEAD" && e.Method != "DELETE" {
			return true
		}
	}
	return false
}

// Check holds the suite against the rule set it names: the rule set's id,
// its rule ids and requirement ids. Every unknown reference is a problem.
func (s *Suite) Check(ruleSetID string, rules, requirements map[string]bool) error {
	var ps Problems
	add := func(line int, format string, args ...any) {
		ps = append(ps, Problem{File: s.File, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if s.RuleSet != ruleSetID {
		add(0, "ruleset %q is not the rule set %q the suite is run with", s.RuleSet, ruleSetID)
	}
	for _, g := range s.Groups {
		for _, t := range g.Tests {
			for _, r := range t.Rules {
				if !rules[r] {
					add(t.field("rules"), "test %q: rule %q is not a rule of %s", t.ID, r, ruleSetID)
				}
			}
			for _, r := range t.Requirements {
				if !requirements[r] {
					add(t.field("requirements"), "test %q: requirement %q is not declared in %s's manifest", t.ID, r, ruleSetID)
				}
			}
		}
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

func (t *Test) field(key string) int {
	if l, ok := t.lines[key]; ok {
		return l
	}
	return t.Line
}

func (s *Suite) lineOf(doc *yaml.Node, key string) int {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return 0
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Line
		}
	}
	return 0
}

// attachLines records the line of each group and test, and of each test's
// fields, from the node tree.
func attachLines(s *Suite, doc *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	groups := mapValue(doc.Content[0], "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return
	}
	for gi, gn := range groups.Content {
		if gi >= len(s.Groups) {
			break
		}
		s.Groups[gi].Line = gn.Line
		tests := mapValue(gn, "tests")
		if tests == nil || tests.Kind != yaml.SequenceNode {
			continue
		}
		for ti, tn := range tests.Content {
			if ti >= len(s.Groups[gi].Tests) {
				break
			}
			t := &s.Groups[gi].Tests[ti]
			t.Line = tn.Line
			t.lines = map[string]int{}
			if tn.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(tn.Content); i += 2 {
					t.lines[tn.Content[i].Value] = tn.Content[i+1].Line
				}
			}
		}
	}
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Load reads and parses one suite file from fsys.
func Load(fsys fs.FS, name string) (*Suite, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, Problems{{File: name, Message: "cannot read the suite: " + err.Error()}}
	}
	return Parse(name, data)
}
