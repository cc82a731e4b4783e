package runs

import (
	"context"
	"fmt"
	"sort"

	"github.com/sandkasse/sandkasse/rules"
	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

// Suite is one runnable suite: the suite, its rule set and the compiled
// policies.
type Suite struct {
	Suite   *suite.Suite
	RuleSet *ruleset.RuleSet
	Engine  *policy.Engine
	// Meta is the report metadata (rule set, requirements, rules) with fix
	// hints in English.
	Meta suitereport.Meta
}

// Catalog holds the suites a sandbox can run, by suite id.
type Catalog map[string]*Suite

// IDs lists the suite ids in order.
func (c Catalog) IDs() []string {
	var out []string
	for id := range c {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Shipped loads every suite of the rule sets shipped in the binary.
func Shipped(ctx context.Context) (Catalog, error) {
	var sets []*ruleset.RuleSet
	for _, id := range rules.IDs {
		rs, err := rules.Load(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("rule set %s: %w", id, err)
		}
		sets = append(sets, rs)
	}
	return NewCatalog(ctx, sets...)
}

// NewCatalog compiles each rule set's policies once and loads its suites,
// checked against the rule set.
func NewCatalog(ctx context.Context, sets ...*ruleset.RuleSet) (Catalog, error) {
	c := Catalog{}
	for _, rs := range sets {
		eng, err := policy.Compile(ctx, rs.Modules, policy.WithLanguage("en"))
		if err != nil {
			return nil, fmt.Errorf("rule set %s: policies: %w", rs.Manifest.ID, err)
		}
		ruleIDs, reqs := map[string]bool{}, map[string]bool{}
		meta := suitereport.Meta{
			RuleSet: suitereport.RuleSetInfo{ID: rs.Manifest.ID, Version: rs.Manifest.Version,
				Effective: rs.Manifest.Effective, Digest: rs.Digest},
			Rules: map[string]suitereport.Rule{},
		}
		for _, r := range rs.Rules {
			ruleIDs[r.ID] = true
			meta.Rules[r.ID] = suitereport.Rule{Title: r.Title, Requirement: r.Requirement, Fix: r.Fix.EN}
		}
		for _, q := range rs.Manifest.Requirements {
			reqs[q.ID] = true
			meta.Requirements = append(meta.Requirements, suitereport.Requirement{ID: q.ID, Title: q.Title, Source: q.Source})
		}
		for _, f := range rs.Manifest.Suites {
			s, err := suite.Load(rs.FS(), f)
			if err != nil {
				return nil, fmt.Errorf("rule set %s: %w", rs.Manifest.ID, err)
			}
			if err := s.Check(rs.Manifest.ID, ruleIDs, reqs); err != nil {
				return nil, fmt.Errorf("rule set %s: %w", rs.Manifest.ID, err)
			}
			if _, dup := c[s.ID]; dup {
				return nil, fmt.Errorf("suite id %s is defined twice", s.ID)
			}
			c[s.ID] = &Suite{Suite: s, RuleSet: rs, Engine: eng, Meta: meta}
		}
	}
	return c, nil
}
