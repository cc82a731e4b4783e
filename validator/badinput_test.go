package validator_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
)

func newValidator(t testing.TB, o validator.Options) *validator.Validator {
	t.Helper()
	v, err := validator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func hasCode(l issue.List, code string, sev issue.Severity) *issue.Issue {
	for i := range l {
		if l[i].Code == code && l[i].Severity == sev {
			return &l[i]
		}
	}
	return nil
}

// Each kind of bad input gets one finding that names what is wrong and
// where; none of them panics or hangs.
func TestBadInput(t *testing.T) {
	v := newValidator(t, validator.Options{})
	cases := []struct {
		name string
		data []byte
		code string
		line int
	}{
		{"malformed JSON", []byte("{\n  \"resourceType\": \"Patient\",\n  \"active\": tru\n}"), "json-syntax", 3},
		{"invalid UTF-8", []byte("{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"\xff\"}]}"), "json-utf8", 1},
		{"nesting 100,000 deep", []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), "json-depth", 1},
		{"unknown resourceType", []byte(`{"resourceType":"Chicken","id":"1"}`), "resource-type-unknown", 1},
		{"no resourceType", []byte(`{"id":"1"}`), "resource-type-missing", 1},
		{"not an object", []byte(`[1,2]`), "resource-not-object", 1},
		{"empty document", []byte(``), "json-syntax", 1},
		{"abstract type", []byte(`{"resourceType":"DomainResource"}`), "resource-type-abstract", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := v.Validate(context.Background(), c.data)
			f := hasCode(r.Issues, c.code, issue.Fatal)
			if f == nil {
				t.Fatalf("no fatal %s in %v", c.code, r.Issues)
			}
			if f.Line != c.line || f.Column < 1 {
				t.Errorf("%s at %d:%d, want line %d", c.code, f.Line, f.Column, c.line)
			}
			if r.Valid() {
				t.Error("bad input judged valid")
			}
		})
	}
}

func TestLargeResourceIsValidated(t *testing.T) {
	// A 50 MB Binary: within the 64 MiB document limit, so it is validated
	// in full (and in linear time: the base64 and position code never
	// rescan the value).
	data := bytes.Repeat([]byte("QUJD"), 50<<20/4)
	doc := append(append([]byte(`{"resourceType":"Binary","contentType":"text/plain","data":"`), data...), `"}`...)
	r := newValidator(t, validator.Options{}).Validate(context.Background(), doc)
	if !r.Valid() {
		t.Fatalf("a valid 50 MB Binary was refused: %v", r.Issues)
	}
	// One byte of bad base64 at the very end is found.
	doc[len(doc)-3] = '*'
	r = newValidator(t, validator.Options{}).Validate(context.Background(), doc)
	if hasCode(r.Issues, "format-base64", issue.Error) == nil {
		t.Fatalf("bad base64 at the end of 50 MB not found: %v", r.Issues)
	}
}

func TestDocumentSizeLimit(t *testing.T) {
	v := newValidator(t, validator.Options{})
	big := []byte(`{"resourceType":"Binary","contentType":"text/plain","data":"` + strings.Repeat("QUJD", 17<<20) + `"}`)
	if f := hasCode(v.Validate(context.Background(), big).Issues, "json-size", issue.Fatal); f == nil {
		t.Fatal("a 68 MB document was not refused by the 64 MiB limit")
	}
}

func bundleOf(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"resource":{"resourceType":"Basic","code":{"text":"x"}}}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestBundleEntryLimit(t *testing.T) {
	v := newValidator(t, validator.Options{MaxBundleEntries: 1000})
	if r := v.Validate(context.Background(), bundleOf(1000)); hasCode(r.Issues, "limit-bundle-entries", issue.Fatal) != nil {
		t.Fatal("a Bundle at the limit was refused")
	}
	r := v.Validate(context.Background(), bundleOf(1001))
	if f := hasCode(r.Issues, "limit-bundle-entries", issue.Fatal); f == nil || f.Expression != "Bundle.entry" {
		t.Fatalf("a Bundle over the limit: %v", r.Issues)
	}
}

func TestMillionEntryBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 58 MB Bundle")
	}
	// A million entries: refused by the JSON value limit before a tree of
	// millions of elements is built.
	r := newValidator(t, validator.Options{}).Validate(context.Background(), bundleOf(1_000_000))
	if hasCode(r.Issues, "json-values", issue.Fatal) == nil && hasCode(r.Issues, "limit-bundle-entries", issue.Fatal) == nil {
		t.Fatalf("a million-entry Bundle was not refused: %.300v", r.Issues)
	}
}

func TestValidationTimeout(t *testing.T) {
	v := newValidator(t, validator.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	r := v.Validate(ctx, []byte(`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"x"}],"managingOrganization":{"reference":"#o"}}`))
	if hasCode(r.Issues, "validation-timeout", issue.Fatal) == nil {
		t.Fatalf("an expired context gave no timeout finding: %v", r.Issues)
	}
	r = v.Validate(context.Background(), []byte(`{"resourceType":"Patient"}`))
	if hasCode(r.Issues, "validation-timeout", issue.Fatal) != nil {
		t.Fatal("timeout reported without a deadline")
	}
}

func TestValidationTimeoutOption(t *testing.T) {
	v := newValidator(t, validator.Options{Timeout: time.Nanosecond})
	r := v.Validate(context.Background(), []byte(`{"resourceType":"Patient","name":[{"family":"x"}]}`))
	if hasCode(r.Issues, "validation-timeout", issue.Fatal) == nil {
		t.Fatalf("a 1 ns timeout gave no timeout finding: %v", r.Issues)
	}
}

// Documents shaped to make per-member or per-reference scans quadratic:
// an object with 100,000 members, and 20,000 local references to 20,000
// contained resources. Both must be answered (linearly: before the fixes
// these took minutes).
func TestWideDocuments(t *testing.T) {
	v := newValidator(t, validator.Options{})
	var b strings.Builder
	b.WriteString(`{"resourceType":"Basic","code":{"text":"x"},"extension":[{"url":"http://example.org/x","valueString":"y"`)
	for i := 0; i < 100000; i++ {
		b.WriteString(`,"k` + strconv.Itoa(i) + `":0`)
	}
	b.WriteString(`}]}`)
	r := v.Validate(context.Background(), []byte(b.String()))
	if hasCode(r.Issues, "structure-unknown-element", issue.Error) == nil {
		t.Fatal("100,000 unknown members gave no finding")
	}

	b.Reset()
	n := 20000
	b.WriteString(`{"resourceType":"List","status":"current","mode":"working","contained":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"resourceType":"Basic","id":"b` + strconv.Itoa(i) + `","code":{"text":"x"}}`)
	}
	b.WriteString(`],"entry":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"item":{"reference":"#b` + strconv.Itoa(i) + `"}}`)
	}
	b.WriteString(`,{"item":{"reference":"#missing"}}]}`)
	r = v.Validate(context.Background(), []byte(b.String()))
	if f := hasCode(r.Issues, "reference-local-unresolved", issue.Error); f == nil || f.Expression != "List.entry["+strconv.Itoa(n)+"].item" {
		t.Fatalf("the one unresolved local reference among %d: %v", n, f)
	}
	// ref-1 says the same in the standard's words (the reference validator
	// reports both); nothing else may fail.
	if c := r.Issues.Count(issue.Error); c != 2 || hasCode(r.Issues, "ref-1", issue.Error) == nil {
		t.Errorf("%d errors, want the unresolved reference and ref-1: %.400v", c, r.Issues)
	}
}
