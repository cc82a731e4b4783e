package profile

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// Package describes a FHIR package (package.json) and the profiles in it.
type Package struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	// Profiles are the canonical URLs of the StructureDefinitions in the
	// package.
	Profiles []string `json:"-"`
}

func (p *Package) label() string {
	if p.Name == "" {
		return "package"
	}
	return "package " + p.Name + "@" + p.Version
}

// LoadPackage loads a FHIR package (a directory or an npm .tgz) into reg
// and checks that every profile in it can be used: its snapshot can be had
// (base loaded, differential fits the base, no circular bases) and the
// profiles its elements name (type profiles, extensions) are loaded. The
// error lists every problem, each naming the package, the profile and, where
// it applies, the element; the package's dependencies are named so a
// missing one is easy to spot. Whatever loads is added even when some
// profiles fail.
func LoadPackage(reg *spec.Registry, path string) (*Package, error) {
	pkg, err := readPackage(path)
	if err != nil {
		return nil, err
	}
	if err := reg.Load(path); err != nil {
		return pkg, fmt.Errorf("%s: %w", pkg.label(), err)
	}
	return pkg, CheckPackage(reg, pkg)
}

// CheckPackage checks the profiles of a loaded package (see LoadPackage).
func CheckPackage(reg *spec.Registry, pkg *Package) error {
	v := New(reg, nil, Options{})
	var errs []error
	deps := dependencyList(pkg)
	for _, u := range pkg.Profiles {
		sd, err := v.Profile(u)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (depends on %s): %v", pkg.label(), deps, err))
			continue
		}
		for _, e := range sd.Snapshot.Element {
			for _, t := range e.Type {
				for _, p := range t.Profile {
					if reg.StructureDefinition(stripVersion(p)) == nil {
						errs = append(errs, fmt.Errorf("%s (depends on %s): profile %s: element %s: type profile %s is not loaded",
							pkg.label(), deps, u, elementID(e), p))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

func elementID(e *spec.ElementDefinition) string {
	if e.ID != "" {
		return e.ID
	}
	return e.Path
}

func dependencyList(pkg *Package) string {
	if len(pkg.Dependencies) == 0 {
		return "nothing"
	}
	var l []string
	for n, v := range pkg.Dependencies {
		l = append(l, n+"@"+v)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

// readPackage reads package.json and lists the StructureDefinitions of a
// package directory or .tgz.
func readPackage(path string) (*Package, error) {
	pkg := &Package{}
	add := func(name string, data []byte) error {
		if filepath.Base(name) == "package.json" {
			if err := json.Unmarshal(data, pkg); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			return nil
		}
		var h struct {
			ResourceType string `json:"resourceType"`
			URL          string `json:"url"`
		}
		if json.Unmarshal(data, &h) == nil && h.ResourceType == "StructureDefinition" && h.URL != "" {
			pkg.Profiles = append(pkg.Profiles, h.URL)
		}
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		files, err := filepath.Glob(filepath.Join(path, "*.json"))
		if err != nil {
			return nil, err
		}
		if sub, _ := filepath.Glob(filepath.Join(path, "package", "*.json")); len(sub) > 0 {
			files = append(files, sub...)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if err := add(f, data); err != nil {
				return nil, err
			}
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: not a gzip-compressed package: %w", path, err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".json") || h.Size > spec.MaxDefinitionSize {
				continue
			}
			data, err := io.ReadAll(io.LimitReader(tr, spec.MaxDefinitionSize))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if err := add(h.Name, data); err != nil {
				return nil, err
			}
		}
	}
	sort.Strings(pkg.Profiles)
	return pkg, nil
}
