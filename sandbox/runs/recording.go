package runs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// surfaces are the tenant's mock endpoints each rule set is about, as path
// prefixes under /t/{tenant}. A suite examines what the app sent there and
// nothing else: a SMART app's suite has no business with the VKP traffic of
// the same tenant, and the other way round.
var surfaces = map[string][]string{
	"dho-vkp":       {"/vkp/"},
	"epr-smart-app": {"/fhir", "/smart/"},
}

// setup are the vendor's own set-up calls (client registration, EHR launch
// contexts) made with the developer token: not the app's behaviour.
var setup = []string{"/vkp/clients", "/smart/clients", "/smart/launch"}

// inSurface reports whether an exchange of tenant is one a suite of the
// rule set examines.
func inSurface(ruleSet, tenant string, x *store.Exchange) bool {
	rest, ok := strings.CutPrefix(x.Path, "/t/"+tenant)
	if !ok {
		return false
	}
	for _, s := range setup {
		if rest == s {
			return false
		}
	}
	ps, known := surfaces[ruleSet]
	if !known {
		return true
	}
	for _, p := range ps {
		if strings.HasPrefix(rest, p) || rest == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}

// Evidence names a recorded exchange by its traffic sequence number, the
// number GET /t/{tenant}/traffic lists it under.
func Evidence(seq int64) string { return fmt.Sprintf("traffic#%d", seq) }

// recording turns recorded exchanges into what the suite runner examines,
// with the context facts the exchanges carry: the scopes granted by the
// tenant's token endpoints and the SMART launch patient.
func recording(xs []store.Exchange, fhirBase string) (*suite.Recording, int) {
	rec := &suite.Recording{Context: map[string]any{}}
	if fhirBase != "" {
		rec.Context["fhirBase"] = fhirBase
	}
	truncated := 0
	var scopes []any
	seen := map[string]bool{}
	for i := range xs {
		x := &xs[i]
		if x.Truncated {
			truncated++
		}
		px := exchange(x)
		rec.Exchanges = append(rec.Exchanges, suite.RecordedExchange{File: Evidence(x.Seq), Exchange: px})
		if grant, ok := tokenGrant(x); ok {
			for _, s := range strings.Fields(grant.Scope) {
				if !seen[s] {
					seen[s] = true
					scopes = append(scopes, s)
				}
			}
			if grant.Patient != "" {
				rec.Context["patient"] = grant.Patient
			}
		}
	}
	if len(scopes) > 0 {
		rec.Context["scopes"] = scopes
	}
	for i := range rec.Exchanges {
		e := &rec.Exchanges[i]
		m, ok := e.Exchange.Body.(map[string]any)
		if !ok {
			continue
		}
		rt, ok := m["resourceType"].(string)
		if !ok || rt == "" {
			continue
		}
		// The bytes as sent, so that validator positions point into them.
		if b := bytes.TrimSpace(xs[i].RequestBody); len(b) > 0 && !xs[i].Truncated {
			rec.Resources = append(rec.Resources, suite.RecordedResource{File: e.File, Type: rt, Data: b, Via: e})
		}
	}
	return rec, truncated
}

type grant struct {
	Scope   string `json:"scope"`
	Patient string `json:"patient"`
}

// tokenGrant reads what a successful token response granted. The access
// token itself is never recorded (the endpoints redact it); the scope and
// patient are what the policies need as context.scopes and context.patient.
func tokenGrant(x *store.Exchange) (grant, bool) {
	var g grant
	if x.Method != http.MethodPost || x.Status != http.StatusOK || !strings.HasSuffix(x.Path, "/token") {
		return g, false
	}
	if json.Unmarshal(x.ResponseBody, &g) != nil || g.Scope == "" {
		return g, false
	}
	return g, true
}

// exchange is the policy input shape of a recorded exchange.
func exchange(x *store.Exchange) policy.Exchange {
	u := x.Path
	if x.Query != "" {
		u += "?" + x.Query
	}
	px := policy.Exchange{Method: strings.ToUpper(x.Method), URL: u, Path: x.Path, Status: x.Status,
		Headers: lower(x.RequestHeader), ResponseHeaders: lower(x.ResponseHeader)}
	if q, err := url.ParseQuery(x.Query); err == nil && len(q) > 0 {
		px.Query = q
	}
	px.Body = body(x.RequestBody, x.RequestHeader.Get("Content-Type"))
	px.ResponseBody = body(x.ResponseBody, x.ResponseHeader.Get("Content-Type"))
	return px
}

// body decodes a body the way the policies read it: JSON as JSON, a form as
// an object of string arrays, anything else as text, nothing as absent.
func body(b []byte, contentType string) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(b))
		if err != nil {
			return string(b)
		}
		out := make(map[string]any, len(v))
		for k, vs := range v {
			a := make([]any, len(vs))
			for i, s := range vs {
				a[i] = s
			}
			out[k] = a
		}
		return out
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return string(b)
		}
		return v
	}
	return string(b)
}

func lower(h http.Header) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = append(out[strings.ToLower(k)], v...)
	}
	return out
}
