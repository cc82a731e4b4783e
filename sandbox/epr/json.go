package epr

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

func raw(data []byte, n *fhirjson.Node) []byte {
	return data[n.Off:fhirjson.ValueEnd(data, int(n.Off))]
}

func str(n *fhirjson.Node, name string) string {
	if v := n.Get(name); v != nil && v.Kind == fhirjson.String {
		return v.Str
	}
	return ""
}

func writeKey(b *bytes.Buffer, first *bool, k string) {
	if !*first {
		b.WriteByte(',')
	}
	*first = false
	writeString(b, k)
	b.WriteByte(':')
}

// writeString writes s as a JSON string (without HTML escaping: & stays &).
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// stamp rewrites a resource as stored: resourceType, id and meta first,
// meta.versionId and meta.lastUpdated set by the server, every other member
// copied byte for byte in its order, the whole compacted.
func stamp(data []byte, root *fhirjson.Node, typ, id string, version int64, updated time.Time) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + 96)
	b.WriteByte('{')
	first := true
	writeKey(&b, &first, "resourceType")
	writeString(&b, typ)
	writeKey(&b, &first, "id")
	writeString(&b, id)
	writeKey(&b, &first, "meta")
	b.WriteByte('{')
	mfirst := true
	writeKey(&b, &mfirst, "versionId")
	writeString(&b, strconv.FormatInt(version, 10))
	writeKey(&b, &mfirst, "lastUpdated")
	writeString(&b, instant(updated))
	if m := root.Get("meta"); m != nil && m.Kind == fhirjson.Object {
		for _, f := range m.Fields {
			switch f.Name {
			case "versionId", "lastUpdated":
				continue
			}
			writeKey(&b, &mfirst, f.Name)
			b.Write(raw(data, f.Value))
		}
	}
	b.WriteByte('}')
	for _, f := range root.Fields {
		switch f.Name {
		case "resourceType", "id", "meta":
			continue
		}
		writeKey(&b, &first, f.Name)
		b.Write(raw(data, f.Value))
	}
	b.WriteByte('}')
	var out bytes.Buffer
	out.Grow(b.Len())
	if err := json.Compact(&out, b.Bytes()); err != nil {
		return b.Bytes()
	}
	return out.Bytes()
}

// instant formats a time as a FHIR instant in UTC with milliseconds.
func instant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// edit replaces byte ranges of data.
type edit struct {
	start, end int
	with       []byte
}

func apply(data []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return data
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b bytes.Buffer
	last := 0
	for _, e := range edits {
		b.Write(data[last:e.start])
		b.Write(e.with)
		last = e.end
	}
	b.Write(data[last:])
	return b.Bytes()
}

// referenceEdits finds every Reference.reference string under n that
// lookup resolves and returns the edits that replace it (offsets relative
// to base).
func referenceEdits(data []byte, n *fhirjson.Node, lookup func(string) (string, bool), base int, out []edit) []edit {
	switch n.Kind {
	case fhirjson.Object:
		for _, f := range n.Fields {
			if f.Name == "reference" && f.Value.Kind == fhirjson.String {
				if to, ok := lookup(f.Value.Str); ok {
					var b bytes.Buffer
					writeString(&b, to)
					start := int(f.Value.Off)
					out = append(out, edit{start - base, fhirjson.ValueEnd(data, start) - base, b.Bytes()})
				}
				continue
			}
			out = referenceEdits(data, f.Value, lookup, base, out)
		}
	case fhirjson.Array:
		for _, it := range n.Items {
			out = referenceEdits(data, it, lookup, base, out)
		}
	}
	return out
}

// parseDate reads a FHIR date, dateTime or instant (or a search value of
// those forms) as the range it covers, [lo, hi) in Unix milliseconds. A
// value without a time zone is taken as UTC.
func parseDate(s string) (lo, hi int64, ok bool) {
	type form struct {
		layout string
		step   func(time.Time) time.Time
	}
	forms := []form{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
	}
	for _, f := range forms {
		if len(s) < len("2006") {
			break
		}
		t, err := time.Parse(f.layout, s)
		if err == nil {
			return t.UnixMilli(), f.step(t).UnixMilli(), true
		}
	}
	// Fractional seconds: the millisecond.
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			lo := t.UnixMilli()
			return lo, lo + 1, true
		}
	}
	return 0, 0, false
}
