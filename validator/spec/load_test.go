package spec_test

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// The Norwegian packages sit in ../shared/profiles beside the repository;
// SANDKASSE_PROFILES names another folder holding them.
var (
	profiles = cmp.Or(os.Getenv("SANDKASSE_PROFILES"), filepath.Join("..", "..", "..", "shared", "profiles"))
	noBasis  = filepath.Join(profiles, "no-basis-2.2.0")
	vkp      = filepath.Join(profiles, "vkp-r4-0.9.0")
)

func needDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not available: %v", dir, err)
	}
}

func TestLoadDirNoBasis(t *testing.T) {
	needDir(t, noBasis)
	reg := r4.NewRegistry()
	if err := reg.Load(noBasis); err != nil {
		t.Fatal(err)
	}
	pat := reg.StructureDefinition("http://hl7.no/fhir/StructureDefinition/no-basis-Patient")
	if pat == nil || pat.Snapshot == nil {
		t.Fatalf("no-basis-Patient not loaded: %+v", pat)
	}
	if !reg.IsSubtype(pat.URL, "DomainResource") || reg.Kind(pat.URL) != "resource" {
		t.Error("no-basis-Patient is not seen as a Patient profile")
	}
	if vs := reg.ValueSet("http://hl7.no/fhir/ValueSet/no-basis-family-relation"); vs == nil {
		t.Error("family-relation ValueSet not loaded")
	}
	// The examples folder holds patients, which must be skipped, not added.
	if got := len(reg.URLs("StructureDefinition")) - len(r4.Source().URLs("StructureDefinition")); got != 33 {
		t.Errorf("loaded %d StructureDefinitions, want 33", got)
	}
	for _, u := range reg.URLs("StructureDefinition") {
		if !strings.HasPrefix(u, "http://hl7.no/") {
			continue
		}
		if _, err := reg.Elements(reg.StructureDefinition(u)); err != nil {
			t.Errorf("element index: %v", err)
		}
	}
}

func TestLoadDirVKP(t *testing.T) {
	needDir(t, vkp)
	reg := r4.NewRegistry()
	if err := reg.Load(vkp); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range reg.TypeInfos() {
		if strings.Contains(ti.URL, "vkp") {
			n++
			if !reg.IsSubtype(ti.URL, "Resource") {
				t.Errorf("%s does not derive from Resource", ti.URL)
			}
		}
	}
	if n != 7 {
		t.Errorf("loaded %d vkp profiles, want 7", n)
	}
}

// writeTgz packs files (name → content) as an npm package under package/.
func writeTgz(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	p := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPackageTgz(t *testing.T) {
	needDir(t, noBasis)
	files := map[string][]byte{}
	for _, n := range []string{"package.json", "no-basis-Patient.structuredefinition-profile.json",
		"no-basis-family-relation.codesystem.json", "no-basis-family-relation.valueset.json",
		"examples/no-basis-Patient-Espen-Eksempel.json"} {
		b, err := os.ReadFile(filepath.Join(noBasis, n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = b
	}
	files["other/spec.internals"] = []byte("not json")
	reg := r4.NewRegistry()
	if err := reg.Load(writeTgz(t, files)); err != nil {
		t.Fatal(err)
	}
	if reg.StructureDefinition("http://hl7.no/fhir/StructureDefinition/no-basis-Patient") == nil ||
		reg.CodeSystem("http://hl7.no/fhir/CodeSystem/no-basis-family-relation") == nil {
		t.Error("package content missing")
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.json")
	os.WriteFile(bad, []byte("{\n\"resourceType\": \"ValueSet\",\n\"url\": }"), 0o644)
	os.WriteFile(filepath.Join(dir, "nourl.json"), []byte(`{"resourceType":"CodeSystem","concept":[]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "badtype.json"), []byte(`{"resourceType":"StructureDefinition","url":"http://x/y","type":"X","snapshot":{"element":[{"path":"X","min":"one"}]}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "patient.json"), []byte(`{"resourceType":"Patient","name":[{"family":"Secret"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "ok.json"), []byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"ValueSet","url":"http://x/vs"}},{"resource":{"resourceType":"Patient"}}]}`), 0o644)
	reg := spec.NewRegistry(nil)
	err := reg.Load(dir)
	if err == nil {
		t.Fatal("no error for broken files")
	}
	msg := err.Error()
	for _, want := range []string{"broken.json: line 3", "nourl.json: CodeSystem has no url", "badtype.json", "min"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "patient.json") || strings.Contains(msg, "Secret") {
		t.Errorf("error mentions the non-conformance file: %q", msg)
	}
	if reg.ValueSet("http://x/vs") == nil {
		t.Error("good files were not loaded beside the broken ones")
	}
	if err := reg.Load(filepath.Join(dir, "patient.json")); err == nil || !strings.Contains(err.Error(), "patient.json") {
		t.Errorf("loading a Patient file explicitly: %v", err)
	}
	if err := reg.Load(writeTgz(t, map[string][]byte{"a.json": []byte("[")})); err == nil || !strings.Contains(err.Error(), "package/a.json") {
		t.Errorf("broken file in package: %v", err)
	}
	notgz := filepath.Join(dir, "x.tgz")
	os.WriteFile(notgz, []byte("plain"), 0o644)
	if err := reg.Load(notgz); err == nil || !strings.Contains(err.Error(), "x.tgz") {
		t.Errorf("non-gzip package: %v", err)
	}
}
