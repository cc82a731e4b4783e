package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/fhirpath/suite"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/structure"
)

const fhirpathSynopsis = "[--resource FILE] EXPRESSION\n" +
	"       sandkasse fhirpath --suite FILE.xml [--inputs DIR]\n\n" +
	"The first form prints the result collection as JSON (exit 0; 2 when the expression\n" +
	"does not compile or fails). The second runs an official-format FHIRPath test file and\n" +
	"prints each failing test (exit 0 all passed, 1 some failed)."

func runFHIRPath(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("fhirpath", fhirpathSynopsis, io.err)
	resource := fs.String("resource", "", "JSON resource to evaluate against (- for stdin); default: no input")
	suiteFile := fs.String("suite", "", "run this FHIRPath test file (tests-fhir-r4.xml format)")
	inputs := fs.String("inputs", "", "directory of the suite's input files as JSON (default: the suite file's directory)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	if *suiteFile != "" {
		if len(rest) > 0 || *resource != "" {
			fmt.Fprintln(io.err, "sandkasse fhirpath: --suite takes no EXPRESSION and no --resource")
			return exitUsage
		}
		return runSuite(*suiteFile, *inputs, io)
	}
	if len(rest) != 1 {
		fmt.Fprintln(io.err, "sandkasse fhirpath: give exactly one EXPRESSION (quote it for the shell)")
		fs.Usage()
		return exitUsage
	}
	expr, err := fhirpath.Compile(rest[0])
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse fhirpath:", err)
		return exitUsage
	}
	// StrictAs stays off, as in the validator: the point of this command is
	// to see what an invariant sees.
	env := &fhirpath.Env{Model: fhirpath.R4}
	var input fhirpath.Collection
	if *resource != "" {
		root, err := loadResource(*resource, io.in)
		if err != nil {
			fmt.Fprintf(io.err, "sandkasse fhirpath: %s: %v\n", *resource, err)
			return exitUsage
		}
		env.Resource, env.RootResource, env.Context = root, root, root
		input = fhirpath.Collection{root}
	}
	out, err := expr.Evaluate(env, input)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse fhirpath:", err)
		return exitUsage
	}
	items := make([]json.RawMessage, 0, len(out))
	for _, it := range out {
		items = append(items, itemJSON(it))
	}
	b, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse fhirpath:", err)
		return exitUsage
	}
	fmt.Fprintf(io.out, "%s\n", b)
	return exitOK
}

func runSuite(path, inputs string, io stdio) int {
	rep, err := suite.RunFile(path, suite.Options{InputDir: inputs, Loader: func(p string) (*element.Element, error) {
		return loadResource(p, nil)
	}})
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse fhirpath:", err)
		return exitUsage
	}
	failed := 0
	for _, r := range rep.Results {
		if r.Passed {
			continue
		}
		failed++
		fmt.Fprintf(io.out, "FAIL %s/%s: %s\n  expected: %s\n  actual:   %s\n", r.Group, r.Name, r.Expression,
			listText(r.Expected), listText(r.Actual))
		if r.Err != "" {
			fmt.Fprintf(io.out, "  error:    %s\n", r.Err)
		}
	}
	fmt.Fprintf(io.out, "%d passed, %d failed\n", rep.Passed, failed)
	if failed > 0 {
		return exitFindings
	}
	return exitOK
}

func listText(l []string) string {
	if len(l) == 0 {
		return "(empty)"
	}
	return strings.Join(l, ", ")
}

var r4Registry = sync.OnceValue(func() *spec.Registry { return r4.NewRegistry() })

// loadResource builds the typed element tree of a JSON resource, the tree
// the validator evaluates invariants on, so that type-dependent expressions
// (is, as, ofType, choice elements) behave as they do in validation.
func loadResource(path string, stdin io.Reader) (*element.Element, error) {
	var data []byte
	var err error
	if path == "-" && stdin != nil {
		data, err = io.ReadAll(io.LimitReader(stdin, int64(fhirjson.DefaultLimits.MaxBytes)+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	doc, err := fhirjson.Parse(data, fhirjson.Limits{})
	if err != nil {
		return nil, err
	}
	root := structure.Build(doc, r4Registry(), structure.Limits{}).Root
	if root == nil {
		return nil, errors.New("not a FHIR resource (no known resourceType)")
	}
	return root, nil
}

// itemJSON writes one result item: elements as the JSON they were read from,
// System values as the closest JSON value.
func itemJSON(it fhirpath.Item) json.RawMessage {
	switch v := it.(type) {
	case *element.Element:
		return elementJSON(v)
	case fhirpath.Boolean:
		return json.RawMessage(v.String())
	case fhirpath.Integer:
		return json.RawMessage(v.String())
	case fhirpath.Decimal:
		return number(v.String())
	case fhirpath.Quantity:
		// The FHIR Quantity shape, in FHIR's element order.
		q := struct {
			Value  json.RawMessage `json:"value"`
			Unit   string          `json:"unit"`
			System string          `json:"system,omitempty"`
			Code   string          `json:"code,omitempty"`
		}{Value: number(v.Value.String()), Unit: v.Unit}
		if !v.Calendar {
			q.System, q.Code = "http://unitsofmeasure.org", v.Unit
		}
		b, _ := json.Marshal(q)
		return b
	case fhirpath.TypeInfo:
		b, _ := json.Marshal(struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		}{v.Namespace, v.Name})
		return b
	}
	s, ok := fhirpath.ItemString(it)
	if !ok {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(s)
	return b
}

// number keeps a decimal literal exactly as written (FHIR decimals carry
// their precision), falling back to a string if it is not a JSON number.
func number(s string) json.RawMessage {
	if json.Valid([]byte(s)) && s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func elementJSON(e *element.Element) json.RawMessage {
	if e.IsPrimitive() {
		if !e.HasValue {
			return json.RawMessage("null")
		}
		switch strings.TrimPrefix(e.Type, "http://hl7.org/fhirpath/") {
		case "boolean", "System.Boolean":
			if e.Value == "true" || e.Value == "false" {
				return json.RawMessage(e.Value)
			}
		case "integer", "decimal", "positiveInt", "unsignedInt", "integer64", "System.Integer", "System.Decimal":
			return number(e.Value)
		}
		b, _ := json.Marshal(e.Value)
		return b
	}
	if e.Node != nil {
		var buf bytes.Buffer
		writeNode(&buf, e.Node)
		return buf.Bytes()
	}
	// Made during evaluation: rebuild from the children.
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	for _, c := range e.Children {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(c.Name)
		buf.Write(name)
		buf.WriteByte(':')
		same := e.Child(c.Name)
		if c.Index < 0 && len(same) == 1 {
			buf.Write(elementJSON(c))
			continue
		}
		buf.WriteByte('[')
		for i, s := range same {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(elementJSON(s))
		}
		buf.WriteByte(']')
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

func writeNode(buf *bytes.Buffer, n *fhirjson.Node) {
	if n == nil {
		buf.WriteString("null")
		return
	}
	switch n.Kind {
	case fhirjson.Null:
		buf.WriteString("null")
	case fhirjson.Bool, fhirjson.Number:
		buf.WriteString(n.Str)
	case fhirjson.String:
		b, _ := json.Marshal(n.Str)
		buf.Write(b)
	case fhirjson.Object:
		buf.WriteByte('{')
		for i, f := range n.Fields {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(f.Name)
			buf.Write(b)
			buf.WriteByte(':')
			writeNode(buf, f.Value)
		}
		buf.WriteByte('}')
	case fhirjson.Array:
		buf.WriteByte('[')
		for i, it := range n.Items {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeNode(buf, it)
		}
		buf.WriteByte(']')
	}
}
