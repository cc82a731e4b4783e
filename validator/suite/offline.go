package suite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/sandkasse/sandkasse/validator/policy"
)

// ContextFile is the optional file of an offline directory that holds the
// facts the runner knows and the inputs do not carry (input.context: scopes,
// patient, fhirBase, serviceCodes).
const ContextFile = "context.json"

// Recording is what an app sent, as the suite runner examines it.
type Recording struct {
	Exchanges []RecordedExchange
	Resources []RecordedResource
	Context   map[string]any
}

// RecordedExchange is one recorded HTTP exchange and the file it came from.
type RecordedExchange struct {
	File     string
	Exchange policy.Exchange
}

// Label names the exchange for evidence: file and request line.
func (e *RecordedExchange) Label() string {
	return fmt.Sprintf("%s (%s %s)", e.File, e.Exchange.Method, e.Exchange.Path)
}

// RecordedResource is one FHIR resource: a recorded resource file, or the
// body of a recorded request (Via then names the request).
type RecordedResource struct {
	File string
	Type string
	Data json.RawMessage
	Via  *RecordedExchange
}

// Label names the resource for evidence.
func (r *RecordedResource) Label() string {
	if r.Via != nil {
		return fmt.Sprintf("%s (body of %s %s)", r.File, r.Via.Exchange.Method, r.Via.Exchange.Path)
	}
	return r.File
}

// LoadDir reads an offline directory: every *.json file below it (in path
// order) holds one recorded exchange (an object with "method" and "url" or
// "path", the shape of policy.Exchange), one FHIR resource (an object with
// "resourceType") or an array of either; context.json at the root holds
// input.context. FHIR resources in request bodies are resources too. Any
// file that is none of these is an error naming the file.
func LoadDir(fsys fs.FS) (*Recording, error) {
	rec := &Recording{}
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var problems []string
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		if f == ContextFile {
			if err := json.Unmarshal(data, &rec.Context); err != nil {
				problems = append(problems, fmt.Sprintf("%s: not a JSON object of context facts: %v", f, err))
			}
			continue
		}
		data = bytes.TrimSpace(data)
		items := []json.RawMessage{data}
		if len(data) > 0 && data[0] == '[' {
			if err := json.Unmarshal(data, &items); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", f, err))
				continue
			}
		}
		for i, it := range items {
			name := f
			if len(items) > 1 || (len(data) > 0 && data[0] == '[') {
				name = fmt.Sprintf("%s[%d]", f, i)
			}
			if err := rec.add(name, it); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("offline inputs:\n%s", strings.Join(problems, "\n"))
	}
	for i := range rec.Exchanges {
		e := &rec.Exchanges[i]
		if m, ok := e.Exchange.Body.(map[string]any); ok {
			if rt, ok := m["resourceType"].(string); ok && rt != "" {
				b, err := json.Marshal(m)
				if err == nil {
					rec.Resources = append(rec.Resources, RecordedResource{File: e.File, Type: rt, Data: b, Via: e})
				}
			}
		}
	}
	return rec, nil
}

func (rec *Recording) add(name string, data json.RawMessage) error {
	var probe struct {
		ResourceType string `json:"resourceType"`
		Method       string `json:"method"`
		URL          string `json:"url"`
		Path         string `json:"path"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	switch {
	case probe.ResourceType != "":
		rec.Resources = append(rec.Resources, RecordedResource{File: name, Type: probe.ResourceType, Data: data})
	case probe.Method != "" && (probe.URL != "" || probe.Path != ""):
		var x policy.Exchange
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		if err := dec.Decode(&x); err != nil {
			return fmt.Errorf("not a recorded exchange: %v", err)
		}
		normalise(&x)
		rec.Exchanges = append(rec.Exchanges, RecordedExchange{File: name, Exchange: x})
	default:
		return fmt.Errorf("neither a FHIR resource (resourceType) nor a recorded exchange (method and url or path)")
	}
	return nil
}

// normalise fills path and query from the URL and upper-cases the method and
// lower-cases header names, as the recorder does.
func normalise(x *policy.Exchange) {
	x.Method = strings.ToUpper(x.Method)
	if u, err := url.Parse(x.URL); err == nil && x.URL != "" {
		if x.Path == "" {
			x.Path = u.Path
		}
		if x.Query == nil && u.RawQuery != "" {
			x.Query = u.Query()
		}
	}
	if x.URL == "" {
		x.URL = x.Path
	}
	x.Path = path.Clean("/" + x.Path)
	x.Headers = lowerKeys(x.Headers)
	x.ResponseHeaders = lowerKeys(x.ResponseHeaders)
}

func lowerKeys(h map[string][]string) map[string][]string {
	if h == nil {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = append(out[strings.ToLower(k)], v...)
	}
	return out
}
