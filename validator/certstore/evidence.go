package certstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// EvidenceVersion is the only evidence format this package reads and writes.
const EvidenceVersion = 1

// The evidence is the recording exactly as the runner held it, including the
// resources it took out of request bodies (with the index of the request),
// so a later run sees the same inputs without re-deriving them: if the
// runner's derivation changed, old evidence would otherwise be judged on
// inputs the app never had examined.
type wireEvidence struct {
	Version   int            `json:"version"`
	Exchanges []wireExchange `json:"exchanges"`
	Resources []wireResource `json:"resources"`
	Context   map[string]any `json:"context,omitempty"`
}

type wireExchange struct {
	File     string          `json:"file"`
	Exchange policy.Exchange `json:"exchange"`
}

type wireResource struct {
	File     string          `json:"file"`
	Type     string          `json:"type"`
	Resource json.RawMessage `json:"resource"`
	Via      *int            `json:"via,omitempty"` // index into exchanges
}

// EncodeEvidence serialises a recording for the registry.
func EncodeEvidence(rec *suite.Recording) ([]byte, error) {
	if rec == nil {
		return nil, errors.New("certstore: no recording to keep as evidence")
	}
	w := wireEvidence{Version: EvidenceVersion, Exchanges: []wireExchange{}, Resources: []wireResource{}, Context: rec.Context}
	index := make(map[*suite.RecordedExchange]int, len(rec.Exchanges))
	for i := range rec.Exchanges {
		x := &rec.Exchanges[i]
		index[x] = i
		w.Exchanges = append(w.Exchanges, wireExchange{File: x.File, Exchange: x.Exchange})
	}
	for _, r := range rec.Resources {
		wr := wireResource{File: r.File, Type: r.Type, Resource: r.Data}
		if r.Via != nil {
			i, ok := index[r.Via]
			if !ok {
				return nil, fmt.Errorf("certstore: resource %s names a request that is not in the recording", r.File)
			}
			wr.Via = &i
		}
		if !json.Valid(r.Data) {
			return nil, fmt.Errorf("certstore: resource %s is not JSON", r.File)
		}
		w.Resources = append(w.Resources, wr)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("certstore: encoding evidence: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeEvidence reads evidence written by [EncodeEvidence], strictly:
// unknown members, a wrong version, a request index out of range or trailing
// data are errors, because a silently different recording would give a
// re-evaluation a different answer.
func DecodeEvidence(data []byte) (*suite.Recording, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// As suite.LoadDir reads request bodies: numbers stay as written.
	dec.UseNumber()
	var w wireEvidence
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("not evidence JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the evidence")
	}
	if w.Version != EvidenceVersion {
		return nil, fmt.Errorf("evidence version %d is not supported (want %d)", w.Version, EvidenceVersion)
	}
	rec := &suite.Recording{Context: w.Context}
	rec.Exchanges = make([]suite.RecordedExchange, len(w.Exchanges))
	for i, x := range w.Exchanges {
		if x.Exchange.Method == "" || x.Exchange.Path == "" {
			return nil, fmt.Errorf("exchange %d (%s): needs a method and a path", i, x.File)
		}
		rec.Exchanges[i] = suite.RecordedExchange{File: x.File, Exchange: x.Exchange}
	}
	// Via points into rec.Exchanges, which is not appended to after this.
	for i, r := range w.Resources {
		if r.Type == "" || len(r.Resource) == 0 {
			return nil, fmt.Errorf("resource %d (%s): needs a type and a resource", i, r.File)
		}
		rr := suite.RecordedResource{File: r.File, Type: r.Type, Data: r.Resource}
		if r.Via != nil {
			if *r.Via < 0 || *r.Via >= len(rec.Exchanges) {
				return nil, fmt.Errorf("resource %d (%s): via %d is not an exchange index", i, r.File, *r.Via)
			}
			rr.Via = &rec.Exchanges[*r.Via]
		}
		rec.Resources = append(rec.Resources, rr)
	}
	return rec, nil
}
