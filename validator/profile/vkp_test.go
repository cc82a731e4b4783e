package profile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Synthetic VKP measurements validate against the VKP profiles (which ship
// only differentials) with no errors; breaking one of them is caught.
func TestVKPSamples(t *testing.T) {
	reg := norwegianRegistry(t)
	v, err := validator.New(validator.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "vkp-*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res := v.Validate(context.Background(), data)
		if res.Issues.HasErrors() {
			t.Errorf("%s:\n%s", f, res.Issues.Error())
		}
		// Without the SNOMED CT coding the VKP slice is missing: allowed
		// (0..*), but without the LOINC one the core vital-signs slice is.
		broken := strings.Replace(string(data), `"system": "http://loinc.org", "code": "85354-9"`, `"system": "http://loinc.org", "code": "00000-0"`, 1)
		broken = strings.Replace(broken, `"system": "http://loinc.org", "code": "8310-5"`, `"system": "http://loinc.org", "code": "00000-0"`, 1)
		res = v.Validate(context.Background(), []byte(broken))
		found := false
		for _, is := range res.Issues {
			if is.Severity >= issue.Error && is.Code == "profile-slice-min" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s without its LOINC code: no profile-slice-min error:\n%s", f, res.Issues.Error())
		}
	}
	if len(files) < 2 {
		t.Fatal("samples missing")
	}
}
