package policy

import "github.com/open-policy-agent/opa/v1/ast"

// ReferencedRules returns every data path (data.pkg.rule and its prefixes)
// the test modules refer to, after imports are resolved, so a rule set loader
// can tell which finding rules no test touches. Modules that do not compile
// contribute nothing; Compile and RunTests report why.
func ReferencedRules(modules []Module) map[string]bool {
	parsed, _, errs := parseAndCheck(modules)
	out := map[string]bool{}
	if len(errs) > 0 {
		return out
	}
	c := newCompiler()
	c.Compile(parsed)
	if c.Failed() {
		return out
	}
	for _, m := range modules {
		if !m.IsTest() {
			continue
		}
		cm := c.Modules[m.Name]
		if cm == nil {
			continue
		}
		ast.WalkRefs(cm, func(r ast.Ref) bool {
			if !r.HasPrefix(ast.DefaultRootRef) {
				return false
			}
			for i := 2; i <= len(r); i++ {
				if !r[:i].IsGround() {
					break
				}
				out[r[:i].String()] = true
			}
			return false
		})
	}
	return out
}
