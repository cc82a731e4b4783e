package reference

import (
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
)

func (c *checker) bundle(b *element.Element) {
	seen := map[string]bool{}
	for _, l := range b.Child("link") {
		rel := value(l, "relation")
		switch rel {
		case "self", "first", "previous", "prev", "next", "last":
			if seen[rel] {
				c.add(l, issue.Error, "bundle-link-duplicate",
					fmt.Sprintf("the link relationship type '%s' can only occur once", rel), "remove the extra link")
			}
			seen[rel] = true
		}
	}
	for _, e := range b.Child("entry") {
		full := value(e, "fullUrl")
		r := e.First("resource")
		if full == "" {
			continue
		}
		if !absoluteURI(full) {
			c.add(e, issue.Error, "bundle-fullurl-relative", "the fullUrl must be an absolute URL",
				"use the resource's absolute URL on its server, or urn:uuid: for a new resource")
			continue
		}
		if r == nil {
			continue
		}
		id := value(r, "id")
		if a, ok := parseAbsolute(full); ok && id != "" && a.Version == "" {
			if a.ID != id {
				c.add(e, issue.Error, "bundle-fullurl-id", "the resource id does not match the id in the entry's fullUrl",
					"make Bundle.entry.fullUrl end with the resource's type and id")
			}
		}
	}
}

func (c *checker) index(b *element.Element) *bundleIndex {
	if x := c.entries[b]; x != nil {
		return x
	}
	x := &bundleIndex{byURL: map[string][]*element.Element{}, byTypeID: map[string][]*element.Element{}, typ: value(b, "type")}
	for _, e := range b.Children {
		if e.Name != "entry" {
			continue
		}
		if full := value(e, "fullUrl"); full != "" {
			x.byURL[full] = append(x.byURL[full], e)
			if k := typeIDSuffix(full); k != "" {
				x.byTypeID[k] = append(x.byTypeID[k], e)
			}
		}
	}
	if c.entries == nil {
		c.entries = map[*element.Element]*bundleIndex{}
	}
	c.entries[b] = x
	return x
}

// inBundle resolves a reference among the entries of its Bundle. Only a
// document Bundle promises that everything it references is inside it; in
// the other types an unresolved relative reference may live on a server.
func (c *checker) inBundle(e *element.Element, ref string, b, from *element.Element) {
	x := c.index(b)
	base := ""
	if full := value(from, "fullUrl"); full != "" {
		if a, ok := parseAbsolute(full); ok {
			base = a.Base
		}
	}
	target, version := ref, ""
	relative := false
	// Type/id and base/Type/id are prefixes of the reference.
	if r, ok := parseRelative(ref); ok {
		target, version, relative = ref[:len(r.Type)+1+len(r.ID)], r.Version, true
		if base != "" {
			target = base + "/" + target
		}
	} else if a, ok := parseAbsolute(ref); ok {
		version = a.Version
		if version != "" {
			target = ref[:len(a.Base)+1+len(a.Type)+1+len(a.ID)]
		}
	}
	candidates := x.byURL[target]
	if relative && base == "" {
		// The referring entry has no RESTful fullUrl to resolve against:
		// match any entry whose fullUrl is or ends in Type/id.
		candidates = x.byTypeID[target]
	}
	matches := 0
	for _, m := range candidates {
		if version != "" {
			if r := m.First("resource"); r == nil || value(r.First("meta"), "versionId") != version {
				continue
			}
		}
		matches++
	}
	switch {
	case matches > 1:
		c.add(e, issue.Error, "bundle-reference-ambiguous",
			fmt.Sprintf("found %d matches for the reference in the bundle", matches),
			"give each entry a distinct fullUrl, or reference a specific version")
	case matches == 0 && x.typ == "document":
		c.add(e, issue.Error, "bundle-reference-unresolved",
			"the reference cannot be found in the document bundle; a document must contain everything it references",
			"add the referenced resource as an entry, with a fullUrl that matches the reference")
	case matches == 0 && strings.HasPrefix(ref, "urn:uuid:"):
		c.add(e, issue.Warning, "bundle-reference-urn-unresolved",
			"the urn:uuid reference is not contained within the bundle", "")
	}
}

// typeIDSuffix returns the last two segments of a URL ("Patient/1" of
// "http://x/fhir/Patient/1", or the URL itself when it is "Patient/1").
func typeIDSuffix(full string) string {
	i := strings.LastIndexByte(full, '/')
	if i <= 0 {
		return ""
	}
	j := strings.LastIndexByte(full[:i], '/')
	return full[j+1:]
}
