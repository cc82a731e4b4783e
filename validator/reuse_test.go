package validator_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
)

// A validation parses into memory that the next one reuses (and clears).
// These documents make findings that quote what the parser read: member
// names, codes, types, escaped text.
var reuseDocs = []string{
	`{"resourceType":"Pati\u0065nt","gender":"F","unknownMember":1,"name":[{"family":"N\u00f8rdmann"}]}`,
	`{"resourceType":"NoSuchType","id":"a"}`,
	`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":1,"system":"http://unitsofmeasure.org","code":"b\u0065ats/min"}}`,
	`{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"http://example.org/Q/\u0031"}`,
	`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:0","resource":{"resourceType":"Patient","bogus\u005fname":true}}]}`,
}

// reuseCorpus is reuseDocs and the fhir-test-cases JSON files (when the
// shared corpus is there).
func reuseCorpus(t *testing.T) [][]byte {
	var docs [][]byte
	for _, d := range reuseDocs {
		docs = append(docs, []byte(d))
	}
	files, _ := filepath.Glob(filepath.Join(sharedCorpusDir(), "fhir-test-cases", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	return docs
}

// TestResultsOutliveTheirDocument holds Validate to its promise that a
// Result owns its strings: a finding that kept a string over the parser's
// memory would read as zeros (the memory is cleared on release) or as the
// next document's text, and caches keyed by such strings would answer
// differently in another order.
func TestResultsOutliveTheirDocument(t *testing.T) {
	ctx := context.Background()
	v, err := validator.New(validator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	docs := reuseCorpus(t)
	first := make([]validator.Result, len(docs))
	findings := 0
	for i, d := range docs {
		input := slices.Clone(d)
		first[i] = v.Validate(ctx, input)
		findings += len(first[i].Issues)
		// The caller may reuse its buffer at once.
		for j := range input {
			input[j] = 'x'
		}
		if !strings.Contains(string(d), `\u0000`) {
			if where := zeroString(reflect.ValueOf(first[i]), "Result"); where != "" {
				t.Errorf("document %d: %s reads as cleared memory: it outlived its document", i, where)
			}
		}
	}
	if findings < len(docs) {
		t.Fatalf("only %d findings over %d documents: the corpus does not exercise findings", findings, len(docs))
	}
	// Again in the reverse order, on the same validator and its caches.
	for i := len(docs) - 1; i >= 0; i-- {
		again := v.Validate(ctx, docs[i])
		if !reflect.DeepEqual(again, first[i]) {
			t.Errorf("document %d: result differs when validated after the others:\n first %v\n again %v", i, first[i].Issues, again.Issues)
		}
	}
	// And each against a validator of its own.
	for i, d := range docs {
		fresh, err := validator.New(validator.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := fresh.Validate(ctx, d); !reflect.DeepEqual(got, first[i]) {
			t.Errorf("document %d: result differs on a fresh validator:\n shared %v\n fresh  %v", i, first[i].Issues, got.Issues)
		}
	}
}

// zeroString names the first string below v that contains a NUL byte.
func zeroString(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return path
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if w := zeroString(v.Field(i), path+"."+v.Type().Field(i).Name); w != "" {
				return w
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if w := zeroString(v.Index(i), path+"["+strconv.Itoa(i)+"]"); w != "" {
				return w
			}
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return zeroString(v.Elem(), path)
		}
	}
	return ""
}
