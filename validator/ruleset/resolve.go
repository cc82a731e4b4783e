package ruleset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sandkasse/sandkasse/validator/profile"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// builtinPackages are carried by the binary: the R4 core definitions.
var builtinPackages = map[string]bool{"hl7.fhir.r4.core@4.0.1": true}

// Resolve loads the packages the manifest names into a registry over the
// built-in R4 core and checks that every profile the manifest requires
// resolves and can be used (its snapshot can be had). searchPath holds
// directories of FHIR packages for name@version entries. Every problem is
// reported, each at the manifest line that names the package or profile.
func (rs *RuleSet) Resolve(searchPath []string) (*spec.Registry, error) {
	c := &collector{name: rs.Name}
	reg := r4.NewRegistry()
	m := &rs.Manifest
	for i, s := range m.Packages {
		ref, err := ParsePackageRef(s)
		if err != nil {
			continue // Load reported it
		}
		line := m.itemLine("packages", i)
		switch {
		case ref.Path != "":
			if err := loadFromFS(reg, rs.fsys, ref.Path); err != nil {
				c.add(ManifestFile, line, "packages[%d] %s: %v", i, s, err)
			}
		case builtinPackages[s]:
		default:
			dir, err := findPackage(searchPath, ref)
			if err != nil {
				c.add(ManifestFile, line, "packages[%d] %s: %v", i, s, err)
				continue
			}
			if err := reg.Load(dir); err != nil {
				c.add(ManifestFile, line, "packages[%d] %s (%s): %v", i, s, dir, err)
			}
		}
	}
	v := profile.New(reg, nil, profile.Options{})
	for i, u := range m.Profiles {
		line := m.itemLine("profiles", i)
		if reg.StructureDefinition(u) == nil {
			c.add(ManifestFile, line, "profiles[%d] %s is in none of the packages (%s)", i, u, strings.Join(m.Packages, ", "))
			continue
		}
		if _, err := v.Profile(u); err != nil {
			c.add(ManifestFile, line, "profiles[%d] %s cannot be used: %v", i, u, err)
		}
	}
	if len(c.ps) > 0 {
		return reg, c.ps.sorted()
	}
	return reg, nil
}

// findPackage looks for name@version in the search path: a folder whose
// package.json (or package/package.json, the npm tarball layout unpacked)
// has that name and version, or a file name-version.tgz.
func findPackage(searchPath []string, ref PackageRef) (string, error) {
	if len(searchPath) == 0 {
		return "", errors.New("no package directories to look in (--packages DIR)")
	}
	for _, dir := range searchPath {
		tgz := filepath.Join(dir, ref.Name+"-"+ref.Version+".tgz")
		if st, err := os.Stat(tgz); err == nil && st.Mode().IsRegular() {
			return tgz, nil
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			for _, pj := range []string{filepath.Join(p, "package.json"), filepath.Join(p, "package", "package.json")} {
				if name, version, ok := readPackageJSON(pj); ok && name == ref.Name && version == ref.Version {
					return p, nil
				}
			}
		}
	}
	return "", fmt.Errorf("not found in %s (a folder whose package.json says name %q, version %q, or %s-%s.tgz)",
		strings.Join(searchPath, ", "), ref.Name, ref.Version, ref.Name, ref.Version)
}

func readPackageJSON(p string) (name, version string, ok bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", "", false
	}
	var pj struct{ Name, Version string }
	if json.Unmarshal(b, &pj) != nil {
		return "", "", false
	}
	return pj.Name, pj.Version, true
}

// loadFromFS loads a package carried inside the rule set: a .tgz, or a
// folder of JSON conformance resources.
func loadFromFS(reg *spec.Registry, fsys fs.FS, p string) error {
	st, err := fs.Stat(fsys, p)
	if err != nil {
		return fmt.Errorf("not in the rule set")
	}
	if !st.IsDir() {
		if !strings.HasSuffix(p, ".tgz") {
			return errors.New("a package inside the rule set is a folder or a .tgz")
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return reg.LoadPackage(p, bytes.NewReader(b))
	}
	var errs []error
	err = fs.WalkDir(fsys, p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(f) != ".json" || path.Base(f) == "package.json" || strings.HasPrefix(path.Base(f), ".") {
			return nil
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		if _, err := reg.LoadJSON(f, b); err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}
