package policy

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
	"github.com/open-policy-agent/opa/v1/types"

	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// Published rules must give the same verdict on the same input anywhere,
// offline, forever: a verdict decides a certificate. So everything that
// reaches outside the input (network, the OPA runtime, the environment) or
// varies between runs (clock, randomness) is refused. The reason is what a
// rule author reads when the compiler refuses a call.
var refusedBuiltins = map[string]string{
	"http.send":              "network access",
	"opa.runtime":            "it reads the OPA runtime and environment",
	"time.now_ns":            "the clock makes verdicts depend on when they ran",
	"rand.intn":              "randomness makes verdicts unrepeatable",
	"uuid.rfc4122":           "randomness makes verdicts unrepeatable",
	"io.jwt.decode_verify":   "it reads the clock and fetches nothing we control; decode with io.jwt.decode instead",
	"providers.aws.sign_req": "it signs requests for network use",
	"trace":                  "tracing output is not a finding",
	"crypto.x509.parse_and_verify_certificates":              "it reads the clock",
	"crypto.x509.parse_and_verify_certificates_with_options": "it reads the clock",
}

// refusedPrefixes covers whole namespaces: net.lookup_ip_addr does DNS, and
// the rest of net.* is refused with it so the rule is easy to state.
var refusedPrefixes = map[string]string{
	"net.": "network access",
}

// refusal tells whether a builtin is refused and why.
func refusal(name string) (string, bool) {
	if why, ok := refusedBuiltins[name]; ok {
		return why, true
	}
	for p, why := range refusedPrefixes {
		if strings.HasPrefix(name, p) {
			return why, true
		}
	}
	return "", false
}

// nationalIDDecl is the one builtin rule sets get from us: the national
// identity number check cannot be written in Rego with the same rules as the
// rest of the validator (2032 rule, synthetic numbers, D-/H-numbers), and two
// implementations would drift.
var nationalIDDecl = &rego.Function{
	Name:        "sandkasse.valid_national_id",
	Description: "true when value is a valid Norwegian person number for the Identifier.system (FNR, D-nummer, FH/H-nummer), under either control-digit rule",
	Decl:        types.NewFunction(types.Args(types.Named("system", types.S), types.Named("value", types.S)), types.Named("valid", types.B)),
	Memoize:     true,
}

// orgNumberDecl checks an organisasjonsnummer (mod 11), which VKP puts in
// every URL.
var orgNumberDecl = &rego.Function{
	Name:        "sandkasse.valid_org_number",
	Description: "true when value is a valid Norwegian organisation number (9 digits, mod 11)",
	Decl:        types.NewFunction(types.Args(types.Named("value", types.S)), types.Named("valid", types.B)),
	Memoize:     true,
}

func validNationalID(_ rego.BuiltinContext, system, value *ast.Term) (*ast.Term, error) {
	sys, err := builtins.StringOperand(system.Value, 1)
	if err != nil {
		return nil, err
	}
	val, err := builtins.StringOperand(value.Value, 2)
	if err != nil {
		return nil, err
	}
	c := nationalid.CheckerFor(string(sys))
	switch c {
	case nationalid.CheckerFNR, nationalid.CheckerDNR, nationalid.CheckerFHOrH:
		return ast.InternedTerm(c.Check(string(val), nationalid.AcceptEither) == nationalid.OK), nil
	}
	// A system that is not a person-number system holds no valid person
	// number: a rule asking about one has the wrong system, not a valid id.
	return ast.InternedTerm(false), nil
}

func validOrgNumber(_ rego.BuiltinContext, value *ast.Term) (*ast.Term, error) {
	val, err := builtins.StringOperand(value.Value, 1)
	if err != nil {
		return nil, err
	}
	return ast.InternedTerm(nationalid.CheckOrgNumber(string(val)) == nationalid.OK), nil
}

// customBuiltins are the declarations and implementations rule sets may use
// beyond OPA's own.
func customBuiltinOptions() []func(*rego.Rego) {
	return []func(*rego.Rego){
		rego.Function2(nationalIDDecl, validNationalID),
		rego.Function1(orgNumberDecl, validOrgNumber),
	}
}

// customBuiltins are the same functions for the evaluator (topdown), which
// the engine runs without package rego. Errors read as rego's do ("name:
// message"); with non-strict builtin errors they make the call undefined.
// They are not memoized: both are pure, and a check digit costs less than
// rego's memo key (the arguments printed into a string).
var customBuiltins = map[string]*topdown.Builtin{
	nationalIDDecl.Name: {
		Decl: builtinDecl(nationalIDDecl),
		Func: func(bctx topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
			t, err := validNationalID(bctx, ops[0], ops[1])
			return finishBuiltin(nationalIDDecl.Name, bctx.Location, t, err, iter)
		},
	},
	orgNumberDecl.Name: {
		Decl: builtinDecl(orgNumberDecl),
		Func: func(bctx topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
			t, err := validOrgNumber(bctx, ops[0])
			return finishBuiltin(orgNumberDecl.Name, bctx.Location, t, err, iter)
		},
	},
}

func builtinDecl(f *rego.Function) *ast.Builtin {
	return &ast.Builtin{Name: f.Name, Description: f.Description, Decl: f.Decl}
}

func finishBuiltin(name string, loc *ast.Location, t *ast.Term, err error, iter func(*ast.Term) error) error {
	if err != nil {
		return (&topdown.Error{Code: topdown.BuiltinErr, Message: name + ": " + err.Error(), Location: loc}).Wrap(err)
	}
	return iter(t)
}

func customBuiltinDecls() []*ast.Builtin {
	var out []*ast.Builtin
	for _, f := range []*rego.Function{nationalIDDecl, orgNumberDecl} {
		out = append(out, &ast.Builtin{Name: f.Name, Description: f.Description, Decl: f.Decl})
	}
	return out
}

// Capabilities returns what a rule-set policy may use: OPA's builtins less the
// refused ones, plus ours, with no network hosts allowed.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	kept := c.Builtins[:0]
	for _, b := range c.Builtins {
		if _, refused := refusal(b.Name); refused || b.Nondeterministic {
			continue
		}
		kept = append(kept, b)
	}
	c.Builtins = append(kept, customBuiltinDecls()...)
	c.AllowNet = []string{}
	return c
}
