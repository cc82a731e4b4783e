package suite

import "encoding/json"

// Outcome is the result of a test, group, requirement or suite.
type Outcome uint8

const (
	Omit  Outcome = iota // not applicable to this app, by the caller's choice
	Pass                 // every check passed
	Skip                 // nothing to examine: the app never sent what the test looks at
	Fail                 // the app broke a rule
	Error                // the tool broke, not the app
)

func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Skip:
		return "skip"
	case Fail:
		return "fail"
	case Error:
		return "error"
	default:
		return "omit"
	}
}

// MarshalText writes the outcome's name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (o *Outcome) UnmarshalText(b []byte) error {
	for _, c := range []Outcome{Omit, Pass, Skip, Fail, Error} {
		if c.String() == string(b) {
			*o = c
			return nil
		}
	}
	return &json.UnsupportedValueError{Str: string(b)}
}

// Child is one child's outcome as its parent sees it.
type Child struct {
	Outcome  Outcome
	Optional bool
}

// Rollup is the one roll-up rule for groups, suites and requirements.
//
// Only required children count, and omitted ones not at all. Among those,
// error dominates (the verdict cannot be trusted), then fail, then skip (a
// required check that never saw input has not been shown to hold), then pass.
// With no counting children the parent is pass when some optional child
// passed, omit when every child was omitted (or there are none), and skip
// otherwise: optional children never fail their parent.
func Rollup(children []Child) Outcome {
	worst, counted := Omit, false
	anyOptPass, allOmit := false, true
	for _, c := range children {
		if c.Outcome != Omit {
			allOmit = false
		}
		if c.Optional {
			if c.Outcome == Pass {
				anyOptPass = true
			}
			continue
		}
		if c.Outcome == Omit {
			continue
		}
		counted = true
		if c.Outcome > worst {
			worst = c.Outcome
		}
	}
	switch {
	case counted:
		return worst
	case anyOptPass:
		return Pass
	case allOmit:
		return Omit
	default:
		return Skip
	}
}
