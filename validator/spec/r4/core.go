package r4

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/spec"
)

var (
	//go:embed core.idx.gz
	indexGz []byte
	//go:embed core.dat
	data []byte
	//go:embed core.dict
	dict []byte
)

// Core is the embedded R4 core as a spec.Source and spec.Catalog. Its
// definitions are shared by every registry that falls back to it and must
// not be modified.
type Core struct {
	once  sync.Once
	items map[string]*item // key: resourceType[:2] + url, e.g. "St" + url
	infos []spec.TypeInfo
	urls  map[string][]string
}

type item struct {
	off, n, raw int
	info        spec.TypeInfo

	once sync.Once
	v    any // *spec.StructureDefinition, *spec.ValueSet or *spec.CodeSystem
}

var core = &Core{}

// Source returns the process-wide embedded core.
func Source() *Core { return core }

// NewRegistry returns an empty registry that falls back to the embedded
// core; packages loaded into it override core definitions with the same URL.
func NewRegistry() *spec.Registry { return spec.NewRegistry(core) }

func (c *Core) load() {
	c.once.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(indexGz))
		if err != nil {
			panic("r4: embedded index is corrupt: " + err.Error())
		}
		c.items = make(map[string]*item, 3100)
		c.urls = map[string][]string{}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) < 5 {
				panic("r4: embedded index line is short: " + sc.Text())
			}
			it := &item{off: atoi(f[2]), n: atoi(f[3]), raw: atoi(f[4])}
			var rt string
			switch f[0] {
			case "St":
				rt = "StructureDefinition"
				if len(f) < 11 {
					panic("r4: embedded index line is short: " + sc.Text())
				}
				it.info = spec.TypeInfo{URL: f[1], Name: f[5], Type: f[6], Kind: f[7], Abstract: f[8] == "true", Derivation: f[9], BaseDefinition: f[10]}
				c.infos = append(c.infos, it.info)
			case "Va":
				rt = "ValueSet"
			case "Co":
				rt = "CodeSystem"
			}
			c.items[f[0]+f[1]] = it
			c.urls[rt] = append(c.urls[rt], f[1])
		}
		if err := sc.Err(); err != nil {
			panic("r4: embedded index is corrupt: " + err.Error())
		}
		for _, u := range c.urls {
			sort.Strings(u)
		}
	})
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic("r4: embedded index has a bad number: " + s)
	}
	return n
}

// get decodes an entry on first request. The embedded data is checked by
// the package tests, so a decode failure is a build defect and panics.
func (c *Core) get(prefix, url string, v func() any) any {
	c.load()
	it := c.items[prefix+url]
	if it == nil {
		return nil
	}
	it.once.Do(func() {
		dst := v()
		r := flate.NewReaderDict(bytes.NewReader(data[it.off:it.off+it.n]), dict)
		buf := make([]byte, it.raw)
		if _, err := io.ReadFull(r, buf); err != nil {
			panic(fmt.Sprintf("r4: embedded %s is corrupt: %v", url, err))
		}
		if err := json.Unmarshal(buf, dst); err != nil {
			panic(fmt.Sprintf("r4: embedded %s does not decode: %v", url, err))
		}
		it.v = dst
	})
	return it.v
}

// StructureDefinition implements spec.Source.
func (c *Core) StructureDefinition(url string) *spec.StructureDefinition {
	v, _ := c.get("St", url, func() any { return new(spec.StructureDefinition) }).(*spec.StructureDefinition)
	return v
}

// ValueSet implements spec.Source.
func (c *Core) ValueSet(url string) *spec.ValueSet {
	v, _ := c.get("Va", url, func() any { return new(spec.ValueSet) }).(*spec.ValueSet)
	return v
}

// CodeSystem implements spec.Source.
func (c *Core) CodeSystem(url string) *spec.CodeSystem {
	v, _ := c.get("Co", url, func() any { return new(spec.CodeSystem) }).(*spec.CodeSystem)
	return v
}

// TypeInfo implements spec.Catalog from the index alone.
func (c *Core) TypeInfo(url string) (spec.TypeInfo, bool) {
	c.load()
	it := c.items["St"+url]
	if it == nil {
		return spec.TypeInfo{}, false
	}
	return it.info, true
}

// TypeInfos implements spec.Catalog. The slice is shared; do not modify it.
func (c *Core) TypeInfos() []spec.TypeInfo {
	c.load()
	return c.infos
}

// URLs implements spec.Catalog. The slice is shared; do not modify it.
func (c *Core) URLs(resourceType string) []string {
	c.load()
	return c.urls[resourceType]
}
