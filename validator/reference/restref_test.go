package reference

import (
	"regexp"
	"testing"
)

// The regular expressions these parsers replace, kept as their
// specification.
var (
	specRelative = regexp.MustCompile(`^([A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/([A-Za-z0-9\-\.]{1,64}))?$`)
	specScheme   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$`)
	specAbsolute = regexp.MustCompile(`^(https?)://[^\s]+/([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/([A-Za-z0-9\-\.]{1,64}))?$`)
)

var refSamples = []string{
	"Patient/1", "Patient/1/_history/2", "patient/1", "Patient/", "/Patient/1", "Patient/1/", "Patient/a b",
	"Patient/" + string(make([]byte, 0)) + "x", "Pat1ent/1", "Patient/1/_history/", "Patient/1/_history",
	"http://x.org/fhir/Patient/1", "https://x.org/fhir/Patient/1/_history/2", "http://x.org/Patient/1",
	"http://x.org/fhir/P/1", "http://x.org/fhir/patient/1", "http://Patient/1", "http:///Patient/1",
	"http://x/Patient/1/_history/2/Observation/5", "http://x/a b/Patient/1", "ftp://x/Patient/1",
	"http://x/fhir/Patient/" + "0123456789012345678901234567890123456789012345678901234567890123",
	"http://x/fhir/Patient/" + "01234567890123456789012345678901234567890123456789012345678901234",
	"urn:uuid:1", "#p", "", "Patient", "http://x/_history/Patient/1", "http://x/Observation/_history/1",
	"a:b", "a:", ":b", "1a:b", "a+.-9:b c", "a+.-9:b\vc", "a:b\fc", "urn:oid:1.2.3", "x-y.z+w:\xff", "ab#:c",
}

func TestParsersAgreeWithRegexps(t *testing.T) {
	for _, s := range refSamples {
		for i := 0; i <= len(s); i++ {
			checkRef(t, s[:i])
		}
	}
}

func checkRef(t *testing.T, s string) {
	t.Helper()
	if got, want := absoluteURI(s), specScheme.MatchString(s); got != want {
		t.Errorf("absoluteURI(%q) = %v, regexp %v", s, got, want)
	}
	m := specRelative.FindStringSubmatch(s)
	r, ok := parseRelative(s)
	if (m != nil) != ok || (ok && (r.Type != m[1] || r.ID != m[2] || r.Version != m[4])) {
		t.Errorf("relative %q: parsed %+v %v, regexp %q", s, r, ok, m)
	}
	m = specAbsolute.FindStringSubmatch(s)
	a, ok := parseAbsolute(s)
	if (m != nil) != ok || (ok && (a.Type != m[2] || a.ID != m[3] || a.Version != m[5])) {
		t.Errorf("absolute %q: parsed %+v %v, regexp %q", s, a, ok, m)
	}
	if ok {
		whole := a.Base + "/" + a.Type + "/" + a.ID
		if a.Version != "" {
			whole += "/_history/" + a.Version
		}
		if whole != s {
			t.Errorf("absolute %q: base %q type %q id %q version %q do not make up the reference", s, a.Base, a.Type, a.ID, a.Version)
		}
	}
}

func FuzzRefParsers(f *testing.F) {
	for _, s := range refSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkRef(t, s) })
}
