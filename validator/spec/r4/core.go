package r4

import (
	"bytes"
	"compress/flate"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4/internal/wire"
)

var (
	//go:embed core.idx
	index string
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
	items []item
	// byKind maps resourceType → url → index into items.
	sds, vss, css map[string]int32
	infos         []spec.TypeInfo
	urls          map[string][]string
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

// load parses the index on first use. Fields are substrings of the
// embedded text, so the index costs a few allocations, not one per field:
// this runs on every process start.
func (c *Core) load() {
	c.once.Do(func() {
		// Items are filled in place: an item holds a sync.Once, which must
		// not be copied, so the slice is sized once and never grown.
		c.items = make([]item, 0, strings.Count(index, "\n")+1)
		c.sds = make(map[string]int32, 700)
		c.vss = make(map[string]int32, 1400)
		c.css = make(map[string]int32, 1100)
		c.infos = make([]spec.TypeInfo, 0, 700)
		c.urls = map[string][]string{}
		rest := index
		var f [11]string
		for rest != "" {
			line, tail, _ := strings.Cut(rest, "\n")
			rest = tail
			n := 0
			for n < len(f) {
				var ok bool
				f[n], line, ok = strings.Cut(line, "\t")
				n++
				if !ok {
					break
				}
			}
			if n < 5 {
				panic("r4: embedded index line is short: " + f[0] + " " + f[1])
			}
			c.items = c.items[:len(c.items)+1]
			it := &c.items[len(c.items)-1]
			it.off, it.n, it.raw = atoi(f[2]), atoi(f[3]), atoi(f[4])
			var m map[string]int32
			var rt string
			switch f[0] {
			case "St":
				if n < 11 {
					panic("r4: embedded index line is short: " + f[1])
				}
				m, rt = c.sds, "StructureDefinition"
				it.info = spec.TypeInfo{URL: f[1], Name: f[5], Type: f[6], Kind: f[7], Abstract: f[8] == "true", Derivation: f[9], BaseDefinition: f[10]}
				c.infos = append(c.infos, it.info)
			case "Va":
				m, rt = c.vss, "ValueSet"
			case "Co":
				m, rt = c.css, "CodeSystem"
			default:
				panic("r4: embedded index has an unknown kind: " + f[0])
			}
			m[f[1]] = int32(len(c.items) - 1)
			c.urls[rt] = append(c.urls[rt], f[1])
		}
		// The generator writes URLs sorted; sorting again would cost a
		// millisecond of start-up.
		for _, u := range c.urls {
			if !sort.StringsAreSorted(u) {
				sort.Strings(u)
			}
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
func (c *Core) get(m *map[string]int32, url string, v func() any, convert func(any) any) any {
	c.load()
	i, ok := (*m)[url]
	if !ok {
		return nil
	}
	it := &c.items[i]
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
		if convert != nil {
			it.v = convert(dst)
		} else {
			it.v = dst
		}
	})
	return it.v
}

// StructureDefinition implements spec.Source.
func (c *Core) StructureDefinition(url string) *spec.StructureDefinition {
	v, _ := c.get(&c.sds, url, func() any { return new(wire.StructureDefinition) }, func(v any) any {
		return wire.FromWire(v.(*wire.StructureDefinition))
	}).(*spec.StructureDefinition)
	return v
}

// ValueSet implements spec.Source.
func (c *Core) ValueSet(url string) *spec.ValueSet {
	v, _ := c.get(&c.vss, url, func() any { return new(spec.ValueSet) }, nil).(*spec.ValueSet)
	return v
}

// CodeSystem implements spec.Source.
func (c *Core) CodeSystem(url string) *spec.CodeSystem {
	v, _ := c.get(&c.css, url, func() any { return new(spec.CodeSystem) }, nil).(*spec.CodeSystem)
	return v
}

// TypeInfo implements spec.Catalog from the index alone.
func (c *Core) TypeInfo(url string) (spec.TypeInfo, bool) {
	c.load()
	i, ok := c.sds[url]
	if !ok {
		return spec.TypeInfo{}, false
	}
	return c.items[i].info, true
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
