package ruleset

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sandkasse/sandkasse/validator/identifier"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// Manifest is ruleset.yaml. Every field but Suites is required.
//
//	id: dho-vkp                       # equals the directory name
//	version: 1.0.0                    # semantic version 2.0.0
//	effective: 2026-01-01             # date the release applies from
//	description: …
//	packages: [hl7.fhir.no.basis@2.2.0, ./packages/local]
//	profiles: [http://…/StructureDefinition/…]   # canonical URLs that must resolve
//	suites: [suites/journal.yaml]     # files under suites/, run in this order
//	requirements:                     # what rules and suites claim to verify
//	  - id: VKP-JOURNAL
//	    title: …
type Manifest struct {
	ID           string        `yaml:"id" json:"id"`
	Version      string        `yaml:"version" json:"version"`
	Effective    string        `yaml:"effective" json:"effective"`
	Description  string        `yaml:"description" json:"description"`
	Packages     []string      `yaml:"packages" json:"packages"`
	Profiles     []string      `yaml:"profiles" json:"profiles"`
	Suites       []string      `yaml:"suites" json:"suites"`
	Requirements []Requirement `yaml:"requirements" json:"requirements"`
	// Identifiers sets how Norwegian identifier checks report for this rule
	// set: real test material breaks the checksum rules, so severity, the
	// control-digit rule and the known test identities are policy.
	Identifiers *IdentifierRules `yaml:"identifiers,omitempty" json:"identifiers,omitempty"`

	lines map[string]int // top-level key → line, for messages about values
	items map[string][]int
}

// Requirement is one thing a rule set verifies. Rules name it in
// custom.requirement; reports roll findings up by it.
type Requirement struct {
	ID     string `yaml:"id" json:"id"`
	Title  string `yaml:"title" json:"title"`
	Source string `yaml:"source" json:"source"` // where it is stated: a specification and section, or "sandkasse"
}

// IdentifierRules is the manifest's identifiers section.
type IdentifierRules struct {
	Severity string   `yaml:"severity" json:"severity,omitempty"` // error (default) | warning | information
	Rule     string   `yaml:"rule" json:"rule,omitempty"`         // either (default) | pre2032 | from2032
	Allow    []string `yaml:"allow" json:"allow,omitempty"`       // values that pass whatever they are
}

// IdentifierPolicy is the validator policy the manifest asks for (the
// default policy when it says nothing). The manifest has been checked, so
// the values are known.
func (m *Manifest) IdentifierPolicy() identifier.Policy {
	var p identifier.Policy
	r := m.Identifiers
	if r == nil {
		return p
	}
	if sev, ok := issue.ParseSeverity(r.Severity); ok {
		p.Severity = &sev
	}
	switch r.Rule {
	case "pre2032":
		p.Rules = nationalid.Pre2032
	case "from2032":
		p.Rules = nationalid.From2032
	}
	if len(r.Allow) > 0 {
		p.Allow = map[string]bool{}
		for _, v := range r.Allow {
			p.Allow[v] = true
		}
	}
	return p
}

func (m *Manifest) line(key string) int { return m.lines[key] }

func (m *Manifest) itemLine(key string, i int) int {
	if ls := m.items[key]; i < len(ls) {
		return ls[i]
	}
	return m.lines[key]
}

var (
	idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	// semverPattern is the one semver.org gives.
	semverPattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	reqPattern    = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`)
	// npm package names as FHIR packages use them (lower-case, dots), plus
	// the upper case some published packages carry (VKPR).
	pkgNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	yamlLineRE     = regexp.MustCompile(`^line (\d+): `)
)

// parseManifest decodes ruleset.yaml strictly and checks every value,
// adding one problem per fault.
func parseManifest(c *collector, data []byte) (Manifest, time.Time) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&m)
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		// Fields that decoded are still checked below.
		for _, msg := range te.Errors {
			line := 0
			if sm := yamlLineRE.FindStringSubmatch(msg); sm != nil {
				line, _ = strconv.Atoi(sm[1])
				msg = msg[len(sm[0]):]
			}
			c.add(ManifestFile, line, "%s", strings.Replace(msg, "in type ruleset.Manifest", "in the manifest", 1))
		}
	default:
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if sm := yamlLineRE.FindStringSubmatch(msg); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			msg = msg[len(sm[0]):]
		}
		c.add(ManifestFile, line, "%s", msg)
		return m, time.Time{}
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil {
		m.lines, m.items = positions(&doc)
	}

	bad := func(key string, format string, args ...any) { c.add(ManifestFile, m.line(key), format, args...) }
	missing := func(key string) { c.add(ManifestFile, 0, "missing required field %s", key) }

	switch {
	case m.ID == "":
		missing("id")
	case !idPattern.MatchString(m.ID):
		bad("id", "id %q must be lower-case words joined by hyphens", m.ID)
	}
	switch {
	case m.Version == "":
		missing("version")
	case !semverPattern.MatchString(m.Version):
		bad("version", "version %q is not a semantic version (MAJOR.MINOR.PATCH)", m.Version)
	}
	var eff time.Time
	switch {
	case m.Effective == "":
		missing("effective")
	default:
		t, err := time.Parse(time.DateOnly, m.Effective)
		if err != nil {
			bad("effective", "effective %q is not a date (YYYY-MM-DD)", m.Effective)
		}
		eff = t
	}
	if strings.TrimSpace(m.Description) == "" {
		missing("description")
	}
	if m.Packages == nil {
		missing("packages")
	}
	seen := map[string]bool{}
	for i, p := range m.Packages {
		if _, err := ParsePackageRef(p); err != nil {
			c.add(ManifestFile, m.itemLine("packages", i), "packages[%d]: %v", i, err)
		}
		if seen[p] {
			c.add(ManifestFile, m.itemLine("packages", i), "packages[%d]: %q is listed twice", i, p)
		}
		seen[p] = true
	}
	if m.Profiles == nil {
		missing("profiles")
	}
	for i, p := range m.Profiles {
		if !(strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://")) || strings.ContainsAny(p, " |") {
			c.add(ManifestFile, m.itemLine("profiles", i), "profiles[%d]: %q is not a canonical URL (http(s)://…, no |version)", i, p)
		}
		if seen[p] {
			c.add(ManifestFile, m.itemLine("profiles", i), "profiles[%d]: %q is listed twice", i, p)
		}
		seen[p] = true
	}
	for i, s := range m.Suites {
		switch {
		case !strings.HasPrefix(s, "suites/") || strings.Contains(s, "..") || strings.HasSuffix(s, "/"):
			c.add(ManifestFile, m.itemLine("suites", i), "suites[%d]: %q must be a file under suites/", i, s)
		case seen[s]:
			c.add(ManifestFile, m.itemLine("suites", i), "suites[%d]: %q is listed twice", i, s)
		}
		seen[s] = true
	}
	if len(m.Requirements) == 0 {
		missing("requirements")
	}
	for i, r := range m.Requirements {
		l := m.itemLine("requirements", i)
		switch {
		case r.ID == "":
			c.add(ManifestFile, l, "requirements[%d] has no id", i)
		case !reqPattern.MatchString(r.ID):
			c.add(ManifestFile, l, "requirements[%d]: id %q must be upper-case words joined by hyphens", i, r.ID)
		case seen["req:"+r.ID]:
			c.add(ManifestFile, l, "requirements[%d]: id %q is declared twice", i, r.ID)
		}
		seen["req:"+r.ID] = true
		if strings.TrimSpace(r.Title) == "" {
			c.add(ManifestFile, l, "requirements[%d] has no title", i)
		}
		if strings.TrimSpace(r.Source) == "" {
			c.add(ManifestFile, l, "requirements[%d] has no source (a specification, or \"sandkasse\")", i)
		}
	}
	if r := m.Identifiers; r != nil {
		l := m.line("identifiers")
		switch r.Severity {
		case "", "error", "warning", "information":
		default:
			c.add(ManifestFile, l, "identifiers.severity %q must be error, warning or information", r.Severity)
		}
		switch r.Rule {
		case "", "either", "pre2032", "from2032":
		default:
			c.add(ManifestFile, l, "identifiers.rule %q must be either, pre2032 or from2032", r.Rule)
		}
		for i, v := range r.Allow {
			if v == "" || strings.Trim(v, "0123456789") != "" {
				c.add(ManifestFile, l, "identifiers.allow[%d] must be the digits of a known test identity", i)
			}
		}
	}
	return m, eff
}

// positions maps the manifest's top-level keys, and the items of its
// sequences, to their lines.
func positions(doc *yaml.Node) (map[string]int, map[string][]int) {
	lines, items := map[string]int{}, map[string][]int{}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return lines, items
	}
	mapping := doc.Content[0].Content
	for i := 0; i+1 < len(mapping); i += 2 {
		k, v := mapping[i], mapping[i+1]
		lines[k.Value] = v.Line
		if v.Kind == yaml.SequenceNode {
			for _, it := range v.Content {
				items[k.Value] = append(items[k.Value], it.Line)
			}
		}
	}
	return lines, items
}

// PackageRef is a parsed entry of the manifest's packages list.
type PackageRef struct {
	Name, Version string // for name@version
	Path          string // for ./path, relative to the rule set's root
}

func (p PackageRef) String() string {
	if p.Path != "" {
		return "./" + p.Path
	}
	return p.Name + "@" + p.Version
}

// ParsePackageRef parses "name@version" or "./path".
func ParsePackageRef(s string) (PackageRef, error) {
	if rest, ok := strings.CutPrefix(s, "./"); ok {
		if rest == "" || strings.Contains(rest, "..") || strings.HasPrefix(rest, "/") {
			return PackageRef{}, errors.New("a package path must name a folder or .tgz inside the rule set (./packages/…)")
		}
		return PackageRef{Path: strings.TrimSuffix(rest, "/")}, nil
	}
	name, version, ok := strings.Cut(s, "@")
	if !ok || !pkgNamePattern.MatchString(name) || version == "" || strings.ContainsAny(version, " /") {
		return PackageRef{}, errors.New("a package is name@version (npm FHIR package, as in its package.json) or ./path inside the rule set, got " + strconv.Quote(s))
	}
	return PackageRef{Name: name, Version: version}, nil
}
