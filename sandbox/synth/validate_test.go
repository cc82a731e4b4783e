package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// profileDirs are the rule packages the generated data must conform to,
// from the shared checkout beside the repository.
var profileDirs = []string{
	"../../../shared/profiles/no-basis-2.2.0",
	"../../../shared/profiles/vkp-r4-0.9.0",
}

// newValidator loads no-basis and VKP, plus the generated Questionnaires so
// that QuestionnaireResponses are checked against their forms. It skips the
// test when the shared profiles are not there.
func newValidator(t testing.TB) *validator.Validator {
	t.Helper()
	for _, d := range profileDirs {
		if _, err := os.Stat(d); err != nil {
			t.Skipf("profiles not available (%v); run with ../shared beside the repository", err)
		}
	}
	qdir := t.TempDir()
	err := Generate(context.Background(), Options{Seed: 1}, func(r Resource) error {
		if r.Type != "Questionnaire" {
			return nil
		}
		return os.WriteFile(filepath.Join(qdir, r.ID+".json"), r.JSON, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := validator.New(validator.Options{Load: append(append([]string(nil), profileDirs...), qdir)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestGeneratedDataValidates runs the validator over every resource of a
// generated population and fails on any error or fatal finding. Resources
// declare their no-basis / VKP profiles in meta.profile, so the same test
// checks profile conformance as far as the validator does.
func TestGeneratedDataValidates(t *testing.T) {
	v := newValidator(t)
	patients, days := 300, 56
	if testing.Short() {
		patients, days = 40, 28
	}
	opts := Options{Seed: 20250106, Patients: patients, Days: days}
	validateAll(t, v, opts, func(emit func(Resource) error) error {
		return Generate(context.Background(), opts, emit)
	})
}

// TestBundleValidates validates the population as one transaction Bundle
// and as a collection Bundle, which adds the Bundle rules (fullUrl, entry
// request) to the per-resource ones.
func TestBundleValidates(t *testing.T) {
	v := newValidator(t)
	for _, typ := range []string{BundleTransaction, BundleCollection} {
		var sb strings.Builder
		if err := WriteBundle(context.Background(), &sb, Options{Seed: 7, Patients: 5, Days: 14}, typ); err != nil {
			t.Fatal(err)
		}
		res := v.Validate(context.Background(), []byte(sb.String()))
		if bad := errorsOf(res.Issues); len(bad) > 0 {
			t.Errorf("%s Bundle: %d errors, first: %s", typ, len(bad), describe(bad[0]))
		}
	}
}

func validateAll(t *testing.T, v *validator.Validator, opts Options, gen func(func(Resource) error) error) {
	t.Helper()
	type job struct {
		typ string
		doc []byte
	}
	jobs := make(chan job, 64)
	var mu sync.Mutex
	byKey := map[string]int{}
	example := map[string]string{}
	counts := map[string]int{}
	warnings := map[string]int{}
	warnExample := map[string]string{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				res := v.Validate(context.Background(), j.doc)
				mu.Lock()
				counts[j.typ]++
				for _, is := range res.Issues {
					if is.Severity != issue.Error && is.Severity != issue.Fatal {
						k := j.typ + " " + is.Code
						if warnings[k] == 0 {
							warnExample[k] = describe(is)
						}
						warnings[k]++
						continue
					}
					k := j.typ + " " + is.Code + " " + is.Expression
					byKey[k]++
					if _, ok := example[k]; !ok {
						example[k] = describe(is)
					}
				}
				mu.Unlock()
			}
		}()
	}
	meds := map[string][]byte{}
	err := gen(func(r Resource) error {
		doc := append([]byte(nil), r.JSON...)
		switch r.Type {
		case "Medication":
			meds["Medication/"+r.ID] = doc
		case "MedicationStatement":
			// no-basis-MedicationStatement requires its Medication in the
			// same Bundle (aggregation "bundled"), which a resource on its
			// own cannot satisfy: validate it as a collection Bundle of the
			// two, the way it travels.
			var ms struct {
				MedicationReference struct{ Reference string }
			}
			if err := json.Unmarshal(doc, &ms); err != nil {
				return err
			}
			med := meds[ms.MedicationReference.Reference]
			if med == nil {
				return fmt.Errorf("MedicationStatement refers to a Medication not generated before it")
			}
			doc = collection(doc, med)
		}
		jobs <- job{r.Type, doc}
		return nil
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("validated %d resources: %v", total, counts)
	if len(warnings) > 0 {
		keys := make([]string, 0, len(warnings))
		for k := range warnings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("not a failure: %d× %s", warnings[k], warnExample[k])
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%d× %s", byKey[k], example[k])
	}
}

// collection wraps resources in a collection Bundle.
func collection(docs ...[]byte) []byte {
	var j jw
	j.obj("")
	j.str("resourceType", "Bundle")
	j.str("type", "collection")
	j.arr("entry")
	for _, d := range docs {
		var head struct{ ResourceType, ID string }
		json.Unmarshal(d, &head)
		j.obj("")
		j.str("fullUrl", "urn:uuid:"+head.ID)
		j.key("resource")
		j.b = append(j.b, d...)
		j.comma = true
		j.end()
	}
	j.endArr()
	j.end()
	return j.b
}

func errorsOf(l issue.List) []issue.Issue {
	var out []issue.Issue
	for _, is := range l {
		if is.Severity == issue.Error || is.Severity == issue.Fatal {
			out = append(out, is)
		}
	}
	return out
}

// describe names the finding without the resource's values (the code, the
// location and the validator's message), so failures never print
// generated identities in full.
func describe(is issue.Issue) string {
	return fmt.Sprintf("%s %s at %s: %s", is.Severity, is.Code, is.Expression, is.Message)
}
