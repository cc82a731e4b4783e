package validator

import (
	"slices"

	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// WithProfiles returns a Validator that also validates the root resource
// against profiles, besides those of its Options (a profile already there
// is not added twice). It shares v's registry,
// terminology, compiled profiles and questionnaire trees, so a derived
// Validator costs a struct, not a second load: the HTTP edge makes one per
// $validate profile parameter. Unknown profiles are not refused here; they
// become profile-not-found findings as with Options.Profiles.
func (v *Validator) WithProfiles(profiles ...string) *Validator {
	opts := v.opts
	opts.Profiles = slices.Clip(opts.Profiles)
	for _, p := range profiles {
		// A profile named twice would be checked twice and every finding
		// reported twice.
		if !slices.Contains(opts.Profiles, p) {
			opts.Profiles = append(opts.Profiles, p)
		}
	}
	// hints is a cache of fix hints with a lock inside, so it cannot be
	// copied; a fresh one refills on use. A field added to Validator must
	// be added here too (TestWithProfilesCopiesEveryField).
	return &Validator{opts: opts, reg: v.reg, term: v.term, forms: v.forms, prof: v.prof}
}

// ParseLimits are the JSON limits this Validator parses with (defaults
// filled in), so that a caller that parses the same bytes first (the HTTP
// edge unwrapping a Parameters) refuses exactly what the engine would.
func (v *Validator) ParseLimits() fhirjson.Limits {
	l := v.opts.Limits
	d := fhirjson.DefaultLimits
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = d.MaxValues
	}
	return l
}
