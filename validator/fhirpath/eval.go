package fhirpath

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/sandkasse/sandkasse/validator/element"
)

// Expr is a compiled expression. It holds no evaluation state, so one Expr
// may be evaluated concurrently by many goroutines.
type Expr struct {
	src  string
	root node
}

// MaxSource bounds the length of an expression; invariants are far shorter.
const MaxSource = 64 << 10

// Compile parses an expression. Syntax errors, unknown functions and wrong
// argument counts are reported as *SyntaxError with the byte offset.
func Compile(src string) (*Expr, error) {
	if len(src) > MaxSource {
		return nil, &SyntaxError{Pos: MaxSource, Msg: "expression too long"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected '" + tokenText(t) + "' after the end of the expression"}
	}
	return &Expr{src: src, root: root}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on a
// syntax error.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// Env is what an evaluation may see beyond its input. The zero Env is
// usable: %resource and %rootResource then default from the input element.
type Env struct {
	// Resource, RootResource and Context are %resource, %rootResource and
	// %context. When nil, %resource is the resource containing the first
	// input element, %rootResource its container if it is contained (else
	// %resource), and %context the input.
	Resource, RootResource, Context *element.Element
	// Vars are extra %variables; they take precedence over the built-in
	// ones (%ucum, %sct, %loinc, %`vs-…`, %`ext-…`).
	Vars map[string]Collection
	// Model gives the type hierarchy. Nil means exact type names only; use
	// R4 for the core hierarchy.
	Model Model
	// Resolve implements resolve(). When nil, references are resolved
	// within the document: "#id" to contained resources and, inside a
	// Bundle, fullUrl or type/id to entries.
	Resolve func(ref string, from *element.Element) *element.Element
	// MemberOf implements memberOf(); known false (or a nil func) makes the
	// result empty.
	MemberOf func(coding Item, valueSetURL string) (member, known bool)
	// ConformsTo implements conformsTo(); known false is an error, as is
	// a nil func for a profile that is not a core type definition.
	ConformsTo func(e *element.Element, url string) (conforms, known bool)
	// Trace receives trace() output; nil discards it.
	Trace func(name string, c Collection)
	// Now fixes now(), today() and timeOfDay(); zero means the wall clock,
	// read once per evaluation.
	Now time.Time
	// MaxSteps bounds the work of one evaluation (nodes evaluated plus
	// items produced); 0 means DefaultMaxSteps. Deadline, when set, also
	// ends it. Both end evaluation with ErrLimit.
	MaxSteps int
	Deadline time.Time
	// StrictAs makes as() and the 'as' operator on more than one item an
	// error, as the FHIRPath specification (and its test suite) requires.
	// R4's own invariants apply as() to collections (dom-3:
	// %resource.descendants().as(canonical)), so a validator leaves this
	// false and as() then filters like ofType().
	StrictAs bool
}

// DefaultMaxSteps is generous for any invariant on any real resource (dom-3
// on a resource of 100 000 elements needs a few million) while stopping
// runaway expressions (repeat over a growing set, exponential aggregate)
// within seconds.
const DefaultMaxSteps = 10_000_000

// ErrLimit is wrapped by the error an evaluation returns when it runs out of
// steps or time.
var ErrLimit = errors.New("fhirpath: evaluation limit exceeded")

// EvalError is a run-time error. Messages name functions, operators and
// types, never values from the instance.
type EvalError struct {
	Pos int
	Msg string
	err error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("fhirpath: %s at offset %d", e.Msg, e.Pos)
}

func (e *EvalError) Unwrap() error { return e.err }

func errAt(pos int, format string, a ...any) error {
	return &EvalError{Pos: pos, Msg: fmt.Sprintf(format, a...)}
}

type ctx struct {
	env      *Env
	model    Model
	input    Collection
	this     Collection
	index    int // -1 outside an iterating function
	total    Collection
	hasTotal bool

	steps, maxSteps int
	nextCheck       int
	deadline        time.Time

	now    time.Time
	nowSet bool
}

const deadlineEvery = 4096

// recoverPanics is switched off by the package's tests, to see the stack.
var recoverPanics = true

// tick charges n units of work.
func (c *ctx) tick(n int) error {
	c.steps += n
	if c.steps > c.maxSteps {
		return &EvalError{Msg: "evaluation step limit exceeded", err: ErrLimit}
	}
	if c.steps >= c.nextCheck {
		c.nextCheck = c.steps + deadlineEvery
		if !c.deadline.IsZero() && time.Now().After(c.deadline) {
			return &EvalError{Msg: "evaluation deadline exceeded", err: ErrLimit}
		}
	}
	return nil
}

func (c *ctx) clock() time.Time {
	if !c.nowSet {
		if c.env != nil && !c.env.Now.IsZero() {
			c.now = c.env.Now
		} else {
			c.now = time.Now()
		}
		c.nowSet = true
	}
	return c.now
}

// Evaluate runs the expression with input as its initial focus ($this).
// env may be nil.
func (e *Expr) Evaluate(env *Env, input Collection) (out Collection, err error) {
	if env == nil {
		env = &Env{}
	}
	c := ctxPool.Get().(*ctx)
	*c = ctx{env: env, model: env.Model, input: input, this: input, index: -1,
		maxSteps: env.MaxSteps, deadline: env.Deadline, nextCheck: deadlineEvery}
	if c.maxSteps <= 0 {
		c.maxSteps = DefaultMaxSteps
	}
	defer func() {
		*c = ctx{}
		ctxPool.Put(c)
		// Belt and braces: a bug must surface as an error, not crash the
		// validator that evaluates thousands of invariants.
		if !recoverPanics {
			return
		}
		if r := recover(); r != nil {
			out, err = nil, &EvalError{Msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	return e.root.eval(c)
}

// ctxPool recycles evaluation contexts: invariants are evaluated once per
// element, and the context would otherwise be the largest allocation.
var ctxPool = sync.Pool{New: func() any { return new(ctx) }}

// EvalBool evaluates an invariant-style expression. A single Boolean gives
// its value; a single item of another type counts as true (singleton
// evaluation); an empty result is false, as the reference validator treats
// it — use EvalTri where empty must be told apart. More than one item is an
// error.
func (e *Expr) EvalBool(env *Env, input Collection) (bool, error) {
	t, err := e.EvalTri(env, input)
	return t == True, err
}

// Tri is a three-valued logic result.
type Tri int8

const (
	Empty Tri = iota
	False
	True
)

// EvalTri evaluates to True, False or Empty with the singleton rules of
// EvalBool.
func (e *Expr) EvalTri(env *Env, input Collection) (Tri, error) {
	res, err := e.Evaluate(env, input)
	if err != nil {
		return Empty, err
	}
	return toTri(res, 0)
}

// toTri applies singleton evaluation for boolean contexts.
func toTri(c Collection, pos int) (Tri, error) {
	switch len(c) {
	case 0:
		return Empty, nil
	case 1:
		if b, ok := asBoolean(c[0]); ok {
			if b {
				return True, nil
			}
			return False, nil
		}
		return True, nil
	}
	return Empty, errAt(pos, "a single boolean was expected, got %d items", len(c))
}

func triColl(t Tri) Collection {
	switch t {
	case True:
		return collTrue
	case False:
		return collFalse
	}
	return nil
}

var (
	collTrue  = Collection{Boolean(true)}
	collFalse = Collection{Boolean(false)}
)

func boolColl(b bool) Collection {
	if b {
		return collTrue
	}
	return collFalse
}

// asBoolean reads a Boolean or a FHIR boolean element with a value.
func asBoolean(it Item) (bool, bool) {
	switch v := it.(type) {
	case Boolean:
		return bool(v), true
	case *element.Element:
		if v.HasValue {
			if t := normType(v.Type); t == "boolean" || t == "System.Boolean" {
				return v.Value == "true", true
			}
		}
	}
	return false, false
}

// node is a compiled expression part; eval reads $this from c.
type node interface {
	eval(c *ctx) (Collection, error)
}

type litNode struct{ val Collection }

func (n *litNode) eval(c *ctx) (Collection, error) { return n.val, c.tick(1) }

type thisNode struct{}

func (n *thisNode) eval(c *ctx) (Collection, error) { return c.this, c.tick(1) }

type indexNode struct{ pos int }

func (n *indexNode) eval(c *ctx) (Collection, error) {
	if c.index < 0 {
		return nil, errAt(n.pos, "$index used outside an iterating function")
	}
	return intColl(c.index), c.tick(1)
}

type totalNode struct{ pos int }

func (n *totalNode) eval(c *ctx) (Collection, error) {
	if !c.hasTotal {
		return nil, errAt(n.pos, "$total used outside aggregate()")
	}
	return c.total, c.tick(1)
}

type varNode struct {
	name    string
	pos     int
	builtin Collection // constant value of a built-in variable, if any
}

func newVarNode(name string, pos int) *varNode {
	n := &varNode{name: name, pos: pos}
	switch {
	case name == "ucum":
		n.builtin = Collection{String("http://unitsofmeasure.org")}
	case name == "sct":
		n.builtin = Collection{String("http://snomed.info/sct")}
	case name == "loinc":
		n.builtin = Collection{String("http://loinc.org")}
	case name == "us-zip":
		n.builtin = Collection{String(`[0-9]{5}(-[0-9]{4}){0,1}`)}
	case len(name) > 3 && name[:3] == "vs-":
		n.builtin = Collection{String("http://hl7.org/fhir/ValueSet/" + name[3:])}
	case len(name) > 4 && name[:4] == "ext-":
		n.builtin = Collection{String("http://hl7.org/fhir/StructureDefinition/" + name[4:])}
	case len(name) > 3 && name[:3] == "cs-":
		n.builtin = Collection{String("http://hl7.org/fhir/" + name[3:])}
	}
	return n
}

func (n *varNode) eval(c *ctx) (Collection, error) {
	if err := c.tick(1); err != nil {
		return nil, err
	}
	if v, ok := c.env.Vars[n.name]; ok {
		return v, nil
	}
	if n.builtin != nil {
		return n.builtin, nil
	}
	switch n.name {
	case "resource":
		if r := c.resource(); r != nil {
			return Collection{r}, nil
		}
		return nil, nil
	case "rootResource":
		if r := c.rootResource(); r != nil {
			return Collection{r}, nil
		}
		return nil, nil
	case "context":
		if c.env.Context != nil {
			return Collection{c.env.Context}, nil
		}
		return c.input, nil
	}
	return nil, errAt(n.pos, "undefined environment variable %%%s", n.name)
}

func (c *ctx) resource() *element.Element {
	if c.env.Resource != nil {
		return c.env.Resource
	}
	if len(c.input) > 0 {
		if e, ok := c.input[0].(*element.Element); ok {
			return e.Resource()
		}
	}
	return nil
}

func (c *ctx) rootResource() *element.Element {
	if c.env.RootResource != nil {
		return c.env.RootResource
	}
	r := c.resource()
	if r != nil && r.Name == "contained" && r.Parent != nil {
		if up := r.Parent.Resource(); up != nil {
			return up
		}
	}
	return r
}

// identNode is an identifier at the start of a path: a child of $this, or
// $this itself when the name is its type (Patient.name on a Patient).
type identNode struct {
	name string
	pos  int
}

func (n *identNode) eval(c *ctx) (Collection, error) {
	return c.navigate(c.this, n.name, true)
}

type memberNode struct {
	target node
	name   string
	pos    int
}

func (n *memberNode) eval(c *ctx) (Collection, error) {
	in, err := n.target.eval(c)
	if err != nil {
		return nil, err
	}
	return c.navigate(in, n.name, false)
}

func (c *ctx) navigate(in Collection, name string, atStart bool) (Collection, error) {
	var out Collection
	typeName := atStart && name != "" && name[0] >= 'A' && name[0] <= 'Z'
	for _, it := range in {
		switch v := it.(type) {
		case *element.Element:
			if typeName && c.elementIsType(v, name) {
				out = append(out, v)
				continue
			}
			found := false
			for _, ch := range v.Children {
				if ch.Name == name {
					out = append(out, ch)
					found = true
				}
			}
			if !found {
				out = appendChoice(out, v, name)
			}
		case TypeInfo:
			switch name {
			case "name":
				out = append(out, String(v.Name))
			case "namespace":
				out = append(out, String(v.Namespace))
			}
		}
	}
	return out, c.tick(len(out) + 1)
}

func (c *ctx) elementIsType(e *element.Element, name string) bool {
	t := normType(e.Type)
	if t == name {
		return true
	}
	return c.model != nil && t != "" && c.model.IsSubtype(t, name)
}

// appendChoice finds valueQuantity as the choice element value of type
// Quantity: the typed tree names choice elements without their suffix, but
// some expressions in the wild use the JSON name.
func appendChoice(out Collection, e *element.Element, name string) Collection {
	k := 1
	for k < len(name) && !(name[k] >= 'A' && name[k] <= 'Z') {
		k++
	}
	if k >= len(name) {
		return out
	}
	prefix, suffix := name[:k], name[k:]
	for _, ch := range e.Children {
		if ch.Choice && ch.Name == prefix {
			t := normType(ch.Type)
			if t == suffix || (t != "" && t[0]-'a'+'A' == suffix[0] && t[1:] == suffix[1:]) {
				out = append(out, ch)
			}
		}
	}
	return out
}

type indexerNode struct {
	target, index node
	pos           int
}

func (n *indexerNode) eval(c *ctx) (Collection, error) {
	in, err := n.target.eval(c)
	if err != nil {
		return nil, err
	}
	ix, err := n.index.eval(c)
	if err != nil {
		return nil, err
	}
	if len(ix) == 0 {
		return nil, nil
	}
	i, ok := singleInteger(ix)
	if !ok {
		return nil, errAt(n.pos, "the index must be a single integer")
	}
	if i < 0 || i >= int64(len(in)) {
		return nil, nil
	}
	return in[i : i+1 : i+1], nil
}

// singleInteger reads a one-item Integer collection (or integer element).
func singleInteger(c Collection) (int64, bool) {
	if len(c) != 1 {
		return 0, false
	}
	v, ok := normalize(c[0])
	if !ok {
		return 0, false
	}
	i, ok := v.(Integer)
	return int64(i), ok
}

type negNode struct {
	x   node
	pos int
}

func (n *negNode) eval(c *ctx) (Collection, error) {
	in, err := n.x.eval(c)
	if err != nil || len(in) == 0 {
		return nil, err
	}
	if len(in) > 1 {
		return nil, errAt(n.pos, "unary minus needs a single item, got %d", len(in))
	}
	v, _ := normalize(in[0])
	switch x := v.(type) {
	case Integer:
		return Collection{-x}, nil
	case Decimal:
		return Collection{x.Neg()}, nil
	case Quantity:
		x.Value = x.Value.Neg()
		return Collection{x}, nil
	}
	return nil, errAt(n.pos, "unary minus cannot be applied to %s", typeLabel(in[0]))
}

// typeLabel names an item's type for error messages.
func typeLabel(it Item) string {
	return TypeName(it).String()
}

type typeOpNode struct {
	op  string
	x   node
	typ typeSpec
	pos int
}

func (n *typeOpNode) eval(c *ctx) (Collection, error) {
	in, err := n.x.eval(c)
	if err != nil || len(in) == 0 {
		return nil, err
	}
	if len(in) > 1 {
		if n.op == "as" && !c.env.StrictAs {
			return ofType(c, in, n.typ, n.pos)
		}
		return nil, errAt(n.pos, "'%s' needs a single item, got %d", n.op, len(in))
	}
	ok, err := c.isType(in[0], n.typ, n.op == "as", n.pos)
	if err != nil {
		return nil, err
	}
	if n.op == "is" {
		return boolColl(ok), nil
	}
	if ok {
		return in, nil
	}
	return nil, nil
}

var systemTypes = map[string]bool{
	"Any": true, "Boolean": true, "Integer": true, "Decimal": true, "String": true,
	"Date": true, "DateTime": true, "Time": true, "Quantity": true,
}

// isType implements is/as/ofType. exactPrimitive makes FHIR primitives match
// only their own type (Patient.gender.as(string) is empty although
// Patient.gender.is(string) is true — the official suite's expectation,
// which follows the reference implementation); complex types and resources
// match subtypes in both (Age as Quantity).
func (c *ctx) isType(it Item, ts typeSpec, exactPrimitive bool, pos int) (bool, error) {
	if ts.ns != "" && ts.ns != "FHIR" && ts.ns != "System" {
		return false, errAt(pos, "unknown type namespace %s", ts.ns)
	}
	if ts.ns != "System" {
		if tc, ok := c.model.(TypeChecker); ok && !tc.KnownType(ts.name) &&
			!(ts.ns == "" && systemTypes[ts.name]) {
			return false, errAt(pos, "unknown type %s", ts.String())
		}
	}
	var sysName string
	if e, ok := it.(*element.Element); ok {
		t := normType(e.Type)
		if len(t) > 7 && t[:7] == "System." {
			sysName = t[7:]
		} else {
			if ts.ns == "System" {
				return false, nil
			}
			if t == ts.name {
				return true, nil
			}
			if t == "" || c.model == nil || (exactPrimitive && isPrimitiveTypeName(t)) {
				return false, nil
			}
			return c.model.IsSubtype(t, ts.name), nil
		}
	} else {
		sysName = TypeName(it).Name
	}
	if ts.ns == "FHIR" {
		return false, nil
	}
	return ts.name == sysName || ts.name == "Any", nil
}

type callNode struct {
	target node // nil: the function applies to $this
	fn     *funcDef
	name   string
	args   []node
	typ    typeSpec
	desc   []bool
	re     *regexp.Regexp
	pos    int
}

func (n *callNode) eval(c *ctx) (Collection, error) {
	if err := c.tick(1); err != nil {
		return nil, err
	}
	in := c.this
	if n.target != nil {
		var err error
		if in, err = n.target.eval(c); err != nil {
			return nil, err
		}
	}
	return n.fn.impl(c, in, n)
}

// arg evaluates argument i against the caller's $this.
func (n *callNode) arg(c *ctx, i int) (Collection, error) {
	if i >= len(n.args) {
		return nil, nil
	}
	return n.args[i].eval(c)
}

// iterate evaluates body once per input item with $this and $index set.
func (c *ctx) iterate(in Collection, body node, f func(i int, res Collection) (bool, error)) error {
	savedThis, savedIndex := c.this, c.index
	defer func() { c.this, c.index = savedThis, savedIndex }()
	for i := range in {
		c.this, c.index = in[i:i+1:i+1], i
		res, err := body.eval(c)
		if err != nil {
			return err
		}
		stop, err := f(i, res)
		if err != nil || stop {
			return err
		}
	}
	return nil
}
