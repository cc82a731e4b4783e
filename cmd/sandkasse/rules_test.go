package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runRulesCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestRulesTestShipped(t *testing.T) {
	for _, id := range []string{"dho-vkp", "epr-smart-app"} {
		code, out, errs := runRulesCmd("rules", "test", "../../rules/"+id, "--packages", "../../../shared/profiles")
		if code != exitOK || !strings.HasPrefix(out, "ok "+id) {
			t.Errorf("%s: exit %d\n%s%s", id, code, out, errs)
		}
	}
}

// A failing Rego test fails the command with exit 1 and names the test.
func TestRulesTestFailingTest(t *testing.T) {
	dir := t.TempDir()
	src := "../../rules/epr-smart-app"
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == filepath.Join("policies", "writes_test.rego") {
			b = bytes.Replace(b, []byte(`"14835031049"`), []byte(`"14835031048"`), 1)
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "epr-smart-app")
	if err := os.Rename(dir, dst); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runRulesCmd("rules", "test", dst, "--packages", "../../../shared/profiles")
	if code != exitFindings || !strings.Contains(out, "FAIL "+filepath.Join(dst, "policies/writes_test.rego")) || !strings.Contains(out, "test_bad_person_number") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestRulesTestUsage(t *testing.T) {
	if code, _, _ := runRulesCmd("rules"); code != exitUsage {
		t.Errorf("no subcommand: exit %d", code)
	}
	if code, _, _ := runRulesCmd("rules", "test", "does-not-exist"); code != exitUsage {
		t.Errorf("missing dir: exit %d", code)
	}
	if code, _, _ := runRulesCmd("rules", "test", "../../rules/dho-vkp", "--format", "xml"); code != exitUsage {
		t.Errorf("bad format: exit %d", code)
	}
	if code, out, _ := runRulesCmd("rules", "test", "../../validator/ruleset/testdata/bad"); code != exitFindings || !strings.Contains(out, "ruleset.yaml:2: version") {
		t.Errorf("bad rule set: exit %d\n%s", code, out)
	}
}

// A suite the manifest lists is read strictly and held to the rule set:
// an unknown field, or a rule the rule set does not have, is a problem
// with the suite's file (and line).
func TestRulesTestChecksSuites(t *testing.T) {
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"unknown field", "", "colour: blue\n", "field colour not found"},
		{"unknown rule", "SMART-URL-01", "SMART-URL-99", "SMART-URL-99"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "epr-smart-app")
			if err := os.CopyFS(dst, os.DirFS("../../rules/epr-smart-app")); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dst, "suites", "smart-app.yaml")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.old == "" {
				b = append(b, c.new...)
			} else {
				b = bytes.Replace(b, []byte(c.old), []byte(c.new), 1)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, _ := runRulesCmd("rules", "test", dst, "--packages", "../../../shared/profiles")
			if code != exitFindings || !strings.Contains(out, "smart-app.yaml") || !strings.Contains(out, c.want) {
				t.Errorf("exit %d\n%s", code, out)
			}
		})
	}
}
