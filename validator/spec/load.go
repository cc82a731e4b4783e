package spec

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxDefinitionSize bounds one file read by Load; a conformance resource is
// at most a few MB, and the bound keeps a hostile .tgz from exhausting memory.
const MaxDefinitionSize = 64 << 20

// Load adds the conformance resources found at path: a JSON file holding a
// StructureDefinition, ValueSet, CodeSystem or a Bundle of them; a
// directory (every *.json below it, recursively); or an npm FHIR package
// (.tgz). In directories and packages, JSON that is not a conformance
// resource (examples, package.json, .index.json) is skipped. Every
// loadable resource is added even when some files fail; the error then
// names each failing file. Load everything before validating: element
// indexes, generated snapshots and terminology expansions are cached and
// not recomputed when definitions are added later.
func (r *Registry) Load(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return r.loadDir(path)
	}
	if strings.HasSuffix(path, ".tgz") || strings.HasSuffix(path, ".tar.gz") {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return r.LoadPackage(path, f)
	}
	data, err := readLimited(path)
	if err != nil {
		return err
	}
	n, err := r.LoadJSON(path, data)
	if err == nil && n == 0 {
		return fmt.Errorf("%s: holds no StructureDefinition, ValueSet or CodeSystem", path)
	}
	return err
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxDefinitionSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxDefinitionSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxDefinitionSize)
	}
	return b, nil
}

func (r *Registry) loadDir(dir string) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	var errs []error
	for _, p := range names {
		data, err := readLimited(p)
		if err == nil {
			_, err = r.LoadJSON(p, data)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LoadPackage adds the conformance resources of an npm FHIR package read
// from rd (a gzip-compressed tar whose files sit under "package/"); name
// is used in errors.
func (r *Registry) LoadPackage(name string, rd io.Reader) error {
	zr, err := gzip.NewReader(rd)
	if err != nil {
		return fmt.Errorf("%s: not a gzip-compressed package: %w", name, err)
	}
	tr := tar.NewReader(zr)
	var errs []error
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: broken tar archive: %w", name, err))
			break
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".json") {
			continue
		}
		where := name + ":" + h.Name
		if h.Size > MaxDefinitionSize {
			errs = append(errs, fmt.Errorf("%s: larger than %d bytes", where, MaxDefinitionSize))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxDefinitionSize))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			break
		}
		if _, err := r.LoadJSON(where, data); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LoadJSON adds the conformance resources in one JSON document (a resource
// or a Bundle) and returns how many it added; other resource types are
// skipped. name is used in errors.
func (r *Registry) LoadJSON(name string, data []byte) (int, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return 0, fmt.Errorf("%s: %s", name, jsonError(data, err))
	}
	if head.ResourceType != "Bundle" {
		ok, err := r.loadResource(head.ResourceType, data)
		if err != nil {
			return 0, fmt.Errorf("%s: %s", name, err)
		}
		if ok {
			return 1, nil
		}
		return 0, nil
	}
	n := 0
	var errs []error
	for i, e := range head.Entry {
		if len(e.Resource) == 0 {
			continue
		}
		var rt struct {
			ResourceType string `json:"resourceType"`
		}
		// Offsets from a nested decode are relative to the entry, so errors
		// name the entry index rather than a line.
		if err := json.Unmarshal(e.Resource, &rt); err != nil {
			errs = append(errs, fmt.Errorf("%s: Bundle.entry[%d]: %v", name, i, err))
			continue
		}
		ok, err := r.loadResource(rt.ResourceType, e.Resource)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: Bundle.entry[%d]: %s", name, i, err))
		}
		if ok {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (r *Registry) loadResource(rt string, data []byte) (bool, error) {
	switch rt {
	case "StructureDefinition":
		sd := new(StructureDefinition)
		if err := json.Unmarshal(data, sd); err != nil {
			return false, fmt.Errorf("StructureDefinition: %s", jsonError(data, err))
		}
		if sd.URL == "" {
			return false, errors.New("StructureDefinition has no url")
		}
		if sd.Type == "" {
			return false, fmt.Errorf("StructureDefinition %s has no type", sd.URL)
		}
		if sd.Snapshot != nil {
			for i, e := range sd.Snapshot.Element {
				if e == nil || e.Path == "" {
					return false, fmt.Errorf("StructureDefinition %s: snapshot.element[%d] has no path", sd.URL, i)
				}
			}
		}
		r.AddStructureDefinition(sd)
	case "ValueSet":
		vs := new(ValueSet)
		if err := json.Unmarshal(data, vs); err != nil {
			return false, fmt.Errorf("ValueSet: %s", jsonError(data, err))
		}
		if vs.URL == "" {
			return false, errors.New("ValueSet has no url")
		}
		r.AddValueSet(vs)
	case "CodeSystem":
		cs := new(CodeSystem)
		if err := json.Unmarshal(data, cs); err != nil {
			return false, fmt.Errorf("CodeSystem: %s", jsonError(data, err))
		}
		if cs.URL == "" {
			return false, errors.New("CodeSystem has no url")
		}
		r.AddCodeSystem(cs)
	default:
		var head struct {
			URL string `json:"url"`
		}
		if !canonicalTypes[rt] || json.Unmarshal(data, &head) != nil || head.URL == "" {
			return false, nil
		}
		r.AddResource(rt, head.URL, data)
	}
	return true, nil
}

// jsonError words a decode error with a line number instead of a byte offset.
func jsonError(data []byte, err error) string {
	// Only syntax errors carry a document offset: json.Unmarshal checks the
	// whole text first. A type error may come from ElementDefinition's own
	// decoder with an offset relative to the element, but names the field.
	var se *json.SyntaxError
	if !errors.As(err, &se) || se.Offset > int64(len(data)) {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
	return fmt.Sprintf("line %d: %v", line, err)
}
