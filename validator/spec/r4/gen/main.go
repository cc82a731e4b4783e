// Command gen turns the R4 core definitions of an npm FHIR package into the
// compact form embedded by package r4: every StructureDefinition, ValueSet
// and CodeSystem, trimmed to what package spec models, each compressed on
// its own so the validator can decode one definition without touching the
// others.
//
// Usage (see ../doc.go):
//
//	go run ./gen -pkg /path/to/hl7.fhir.r4.examples -out .
//
// -pkg is an unpacked package directory (with or without the "package/"
// folder) or the .tgz that `npm pack` writes.
package main

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4/internal/wire"
)

func main() {
	log.SetFlags(0)
	pkg := flag.String("pkg", "", "unpacked FHIR npm package directory or .tgz")
	out := flag.String("out", ".", "directory to write core.idx, core.dat and core.dict to")
	flag.Parse()
	if *pkg == "" {
		log.Fatal("gen: -pkg is required")
	}
	files, err := readPackage(*pkg)
	if err != nil {
		log.Fatal(err)
	}
	var entries []*entry
	seen := map[string]string{}
	for _, f := range files {
		e, err := trim(f.name, f.data)
		if err != nil {
			log.Fatalf("gen: %s: %v", f.name, err)
		}
		if e == nil {
			continue
		}
		key := e.kind + " " + e.url
		if prev, dup := seen[key]; dup {
			log.Fatalf("gen: %s and %s both define %s", prev, f.name, key)
		}
		seen[key] = f.name
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].kind != entries[j].kind {
			return entries[i].kind > entries[j].kind // StructureDefinitions first
		}
		return entries[i].url < entries[j].url
	})
	dict := buildDict(entries)
	var dat bytes.Buffer
	var idx strings.Builder
	raw := 0
	for _, e := range entries {
		var buf bytes.Buffer
		w, err := flate.NewWriterDict(&buf, flate.BestCompression, dict)
		if err != nil {
			log.Fatal(err)
		}
		w.Write(e.json)
		w.Close()
		raw += len(e.json)
		fields := []string{e.kind[:2], e.url, strconv.Itoa(dat.Len()), strconv.Itoa(buf.Len()), strconv.Itoa(len(e.json))}
		fields = append(fields, e.meta...)
		idx.WriteString(strings.Join(fields, "\t"))
		idx.WriteByte('\n')
		dat.Write(buf.Bytes())
	}
	// The index stays uncompressed: it is read at start-up, where
	// inflating it cost more than its 300 KB of binary size is worth.
	for name, b := range map[string][]byte{"core.idx": []byte(idx.String()), "core.dat": dat.Bytes(), "core.dict": dict} {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("gen: %d definitions, %d bytes trimmed JSON -> %d bytes data + %d index + %d dictionary",
		len(entries), raw, dat.Len(), idx.Len(), len(dict))
}

type file struct {
	name string
	data []byte
}

// readPackage returns the top-level *.json files of a package directory or
// .tgz; examples in subfolders are not definitions.
func readPackage(path string) ([]file, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		dir := path
		if _, err := os.Stat(filepath.Join(path, "package", "package.json")); err == nil {
			dir = filepath.Join(path, "package")
		}
		names, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, err
		}
		var files []file
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, err
			}
			files = append(files, file{filepath.Base(n), b})
		}
		return files, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tr := tar.NewReader(zr)
	var files []file
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimPrefix(h.Name, "package/")
		if h.Typeflag != tar.TypeReg || strings.Contains(name, "/") || !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
		files = append(files, file{name, b})
	}
}

type entry struct {
	kind string // StructureDefinition | ValueSet | CodeSystem
	url  string
	json []byte
	meta []string
}

// trim decodes a definition into the spec model, which drops everything
// the validator does not model (narrative, mappings, definitions, …), and
// clears the few modelled texts that no check reads.
func trim(name string, data []byte) (*entry, error) {
	if !bytes.Contains(data[:min(len(data), 200)], []byte(`"resourceType"`)) && !bytes.Contains(data, []byte(`"resourceType"`)) {
		return nil, nil
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, err
	}
	var v any
	var e entry
	switch head.ResourceType {
	case "StructureDefinition":
		sd := new(spec.StructureDefinition)
		if err := json.Unmarshal(data, sd); err != nil {
			return nil, err
		}
		for _, l := range []*spec.ElementList{sd.Snapshot, sd.Differential} {
			if l == nil {
				continue
			}
			for _, el := range l.Element {
				if el.Slicing != nil {
					el.Slicing.Description = ""
				}
				for i := range el.Constraint {
					el.Constraint[i].Requirements = ""
				}
			}
		}
		e = entry{kind: sd.ResourceType, url: sd.URL, meta: []string{sd.Name, sd.Type, sd.Kind, strconv.FormatBool(sd.Abstract), sd.Derivation, sd.BaseDefinition}}
		v = wire.ToWire(sd)
	case "ValueSet":
		vs := new(spec.ValueSet)
		if err := json.Unmarshal(data, vs); err != nil {
			return nil, err
		}
		e = entry{kind: vs.ResourceType, url: vs.URL, meta: []string{vs.Version, vs.Name}}
		v = vs
	case "CodeSystem":
		cs := new(spec.CodeSystem)
		if err := json.Unmarshal(data, cs); err != nil {
			return nil, err
		}
		e = entry{kind: cs.ResourceType, url: cs.URL, meta: []string{cs.Version, cs.Name, cs.Content}}
		v = cs
	default:
		return nil, nil
	}
	if e.url == "" {
		return nil, fmt.Errorf("%s has no url", head.ResourceType)
	}
	for _, m := range e.meta {
		if strings.ContainsAny(m, "\t\n") {
			return nil, fmt.Errorf("tab or newline in %q", m)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	e.json = b
	return &e, nil
}

// buildDict makes the preset dictionary every entry is compressed against:
// the boilerplate shared by most definitions (the Element/Resource base
// elements, ele-1, common bindings) then is not paid for in each entry.
// Deflate looks back at most 32 KiB, so only that much is useful.
func buildDict(entries []*entry) []byte {
	const max = 32 << 10
	var parts [][]byte
	pick := map[string]bool{
		spec.CoreBase + "Observation": true, // typical resource snapshot
		spec.CoreBase + "Quantity":    true, // typical datatype
		spec.CoreBase + "string":      true,
		spec.CoreBase + "Extension":   true,
	}
	for _, e := range entries {
		if e.kind == "StructureDefinition" && pick[e.url] {
			parts = append(parts, e.json)
		}
	}
	var d []byte
	for _, p := range parts {
		d = append(d, p...)
	}
	if len(d) > max {
		d = d[len(d)-max:]
	}
	return d
}
