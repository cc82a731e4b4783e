package spec

import (
	"bytes"
	"encoding/json"
	"strings"
)

var valuePrefixes = []string{"fixed", "pattern", "minValue", "maxValue", "defaultValue"}

// isValueKey reports whether a JSON member name is one of the choice-typed
// value members, e.g. "fixedUri" or "patternCodeableConcept".
func isValueKey(k string) bool {
	for _, p := range valuePrefixes {
		if len(k) > len(p) && strings.HasPrefix(k, p) && k[len(p)] >= 'A' && k[len(p)] <= 'Z' {
			return true
		}
	}
	return false
}

type elementAlias ElementDefinition

var valueMarkers = func() [][]byte {
	m := make([][]byte, len(valuePrefixes))
	for i, p := range valuePrefixes {
		m[i] = []byte(`"` + p)
	}
	return m
}()

// mayHaveValue is a cheap pre-filter: false means b certainly has no
// fixed/pattern/… member (it may say true for a nested string).
func mayHaveValue(b []byte) bool {
	for _, m := range valueMarkers {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}

// UnmarshalJSON decodes the modelled fields and keeps fixed[x], pattern[x]
// and the other choice-typed values raw, because their type is only known
// from the member name.
func (e *ElementDefinition) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*elementAlias)(e)); err != nil {
		return err
	}
	// Most elements carry no value member; skipping the second, generic
	// decode for them roughly halves the cost of decoding a snapshot.
	if !mayHaveValue(b) {
		return nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k, v := range all {
		if isValueKey(k) {
			if e.Values == nil {
				e.Values = map[string]json.RawMessage{}
			}
			e.Values[k] = v
		}
	}
	return nil
}

// MarshalJSON writes the value members back beside the modelled fields.
func (e *ElementDefinition) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal((*elementAlias)(e))
	if err != nil || len(e.Values) == 0 {
		return b, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range e.Values {
		all[k] = v
	}
	return json.Marshal(all)
}

// Value returns the first value member with the given prefix ("fixed",
// "pattern", …): its type suffix (e.g. "Uri") and raw JSON.
func (e *ElementDefinition) Value(prefix string) (typeSuffix string, raw json.RawMessage, ok bool) {
	for k, v := range e.Values {
		if strings.HasPrefix(k, prefix) && len(k) > len(prefix) && k[len(prefix)] >= 'A' && k[len(prefix)] <= 'Z' {
			return k[len(prefix):], v, true
		}
	}
	return "", nil, false
}
