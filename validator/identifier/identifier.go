// Package identifier checks Norwegian identifier values (fødselsnummer,
// D-nummer, organisation numbers, …) by their Identifier.system. Rule sets
// decide how strict to be: real public test material breaks the rules, so
// the severity, the control-digit rule and an allowlist of known test
// identities are policy, not code.
package identifier

import (
	"fmt"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// Locate gives the line and column of an element.
type Locate func(*element.Element) (line, col int)

// Policy says how identifier findings are reported.
type Policy struct {
	// Off disables the checks.
	Off bool
	// Severity of a failed check; the zero Policy reports errors.
	Severity *issue.Severity
	// Rules selects the control-digit rule (zero: accept the rule before
	// 2032 or the one from 2032).
	Rules nationalid.RuleSet
	// Allow lists values that pass whatever they are: known test
	// identities such as the VKP sample organisation number.
	Allow map[string]bool
}

// Check checks one Identifier element.
func Check(e *element.Element, p Policy, at Locate) issue.List {
	if p.Off {
		return nil
	}
	sys, val := e.First("system"), e.First("value")
	if sys == nil || !sys.HasValue || val == nil || !val.HasValue {
		return nil
	}
	c := nationalid.CheckerFor(sys.Value)
	if c == nationalid.CheckerNone || p.Allow[val.Value] {
		return nil
	}
	r := c.Check(val.Value, p.Rules)
	if r == nationalid.OK {
		return nil
	}
	sev := issue.Error
	if p.Severity != nil {
		sev = *p.Severity
	}
	l, col := at(val)
	return issue.List{{Severity: sev, Code: "identifier-" + c.String() + "-" + r.Code(), Type: "value",
		Expression: val.Path(), Line: l, Column: col, RuleID: sys.Value,
		Message: fmt.Sprintf("invalid %s for system %s: %s", label(c), sys.Value, r.Message()),
		Fix:     "check the number; synthetic test numbers must still pass the control digits (or be on the rule set's allowlist)"}}
}

func label(c nationalid.Checker) string {
	switch c {
	case nationalid.CheckerFNR:
		return "fødselsnummer"
	case nationalid.CheckerDNR:
		return "D-nummer"
	case nationalid.CheckerFHOrH:
		return "FH-/H-nummer"
	case nationalid.CheckerHPR:
		return "HPR-nummer"
	case nationalid.CheckerOrgNumber:
		return "organisasjonsnummer"
	case nationalid.CheckerRESH:
		return "RESH-id"
	case nationalid.CheckerHER:
		return "HER-id"
	case nationalid.CheckerKommunenummer:
		return "kommunenummer"
	}
	return c.String()
}
