package epr

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// resultParams are the search result parameters understood; _format and
// _pretty are accepted and have no effect (JSON is the only format).
var resultParams = map[string]bool{
	"_count": true, "_offset": true, "_sort": true, "_include": true, "_total": true,
	"_summary": true, "_format": true, "_pretty": true,
}

// splitOr splits a parameter value on commas not escaped with a backslash.
func splitOr(v string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && (v[i+1] == ',' || v[i+1] == '|' || v[i+1] == '$' || v[i+1] == '\\'):
			b.WriteByte('\\')
			b.WriteByte(v[i+1])
			i++
		case v[i] == ',':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(v[i])
		}
	}
	return append(out, b.String())
}

// splitToken splits system|code at the first unescaped bar and unescapes.
func splitToken(v string) (sys, code string, hasBar bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' {
			i++
			continue
		}
		if v[i] == '|' {
			return unescape(v[:i]), unescape(v[i+1:]), true
		}
	}
	return "", unescape(v), false
}

func unescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

var datePrefixes = map[string]bool{"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true, "sa": true, "eb": true}

func badParam(msg string) *fhirError {
	return refuse(http.StatusBadRequest, "invalid", CodeBadParam, msg)
}

// query turns search parameters into a store query. Parameters it does not
// know are an error, or with lenient dropped; used holds the parameters
// that were applied, for the self link.
func (s *Server) query(typ string, vals url.Values, lenient bool, base string) (store.Query, url.Values, *fhirError) {
	q := store.Query{Type: typ, Count: DefaultCount, Total: true, MaxBytes: s.lim.MaxPageBytes}
	used := url.Values{}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		values := vals[key]
		if resultParams[key] {
			if fe := s.resultParam(&q, typ, key, values, lenient, used); fe != nil {
				return q, nil, fe
			}
			continue
		}
		name, mod, _ := strings.Cut(key, ":")
		var clauses []store.Clause
		var fe *fhirError
		switch name {
		case "_id":
			clauses, fe = simpleClauses(name, mod, values, func(v string) store.Cond { return store.Cond{Kind: store.MatchExact, Value: v} })
		case "_lastUpdated":
			clauses, fe = dateClauses(name, mod, values)
		default:
			p, ok := lookupParam(typ, name)
			if !ok {
				if lenient {
					continue
				}
				return q, nil, refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam,
					"unknown search parameter for this resource type (see the CapabilityStatement; Prefer: handling=lenient ignores it)")
			}
			clauses, fe = paramClauses(p, mod, values, base)
		}
		if fe != nil {
			if lenient && fe.issues[0].Code == CodeUnknownParam {
				continue
			}
			return q, nil, fe
		}
		q.Where = append(q.Where, clauses...)
		used[key] = values
	}
	n := 0
	for _, c := range q.Where {
		n += len(c.Any)
	}
	if n > MaxSearchValues {
		return q, nil, refuse(http.StatusBadRequest, "too-costly", CodeTooCostly,
			"the search has more than "+strconv.Itoa(MaxSearchValues)+" parameter values; split it into several searches")
	}
	return q, used, nil
}

// Bounds of one search's criteria: each value becomes a condition of the
// store's query (SQLite takes at most 32,766 bound values in a statement),
// each sort key a sub-select.
const (
	MaxSearchValues = 500
	MaxSortKeys     = 8
)

func (s *Server) resultParam(q *store.Query, typ, key string, values []string, lenient bool, used url.Values) *fhirError {
	v := values[len(values)-1]
	switch key {
	case "_count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badParam("_count must be a non-negative integer")
		}
		q.Count = min(n, MaxCount)
	case "_offset":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxOffset {
			return badParam("_offset must be an integer from 0 to " + strconv.Itoa(MaxOffset))
		}
		q.Offset = n
		return nil // not part of the self link's query; paging adds it
	case "_sort":
		q.Sort = nil
		if strings.Count(v, ",") >= MaxSortKeys {
			return refuse(http.StatusBadRequest, "too-costly", CodeTooCostly, "_sort takes at most "+strconv.Itoa(MaxSortKeys)+" keys")
		}
		for _, f := range strings.Split(v, ",") {
			desc := strings.HasPrefix(f, "-")
			name := strings.TrimPrefix(f, "-")
			switch name {
			case "_id", "_lastUpdated":
				q.Sort = append(q.Sort, store.SortKey{Param: name, Desc: desc})
				continue
			}
			p, ok := lookupParam(typ, name)
			if !ok {
				if lenient {
					continue
				}
				return refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam, "_sort names an unknown search parameter")
			}
			q.Sort = append(q.Sort, store.SortKey{Param: name, Desc: desc, Range: p.kind == kDate})
		}
	case "_include":
		for _, inc := range values {
			parts := strings.Split(inc, ":")
			if len(parts) < 2 || len(parts) > 3 || parts[0] != typ {
				if lenient {
					continue
				}
				return badParam("_include must be " + typ + ":param[:Type] for a search on " + typ)
			}
			target := ""
			if len(parts) == 3 {
				if target = parts[2]; !s.types[target] {
					if lenient {
						continue
					}
					return badParam("the target of _include " + typ + ":" + parts[1] + ":Type is not a FHIR R4 resource type")
				}
			}
			if parts[1] == "*" {
				for _, p := range paramsOf(typ) {
					if p.kind == kReference {
						q.Include = addInclude(q.Include, p.name, target)
					}
				}
				continue
			}
			p, ok := lookupParam(typ, parts[1])
			if !ok || p.kind != kReference {
				if lenient {
					continue
				}
				return refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam, "_include names no reference search parameter of this type")
			}
			q.Include = addInclude(q.Include, p.name, target)
		}
	case "_total":
		// The total is always counted.
	case "_summary":
		switch v {
		case "count":
			q.Count = 0
		case "false":
		default:
			if !lenient {
				return refuse(http.StatusBadRequest, "not-supported", CodeNotSupported, "_summary supports count and false only")
			}
			return nil
		}
	case "_format":
		switch v {
		case "json", "application/json", "application/fhir+json", "application/json+fhir":
		default:
			return refuse(http.StatusNotAcceptable, "not-supported", CodeFormat, "the mock EPR serves JSON only")
		}
		return nil
	case "_pretty":
		return nil
	}
	used[key] = values
	return nil
}

func simpleClauses(name, mod string, values []string, cond func(string) store.Cond) ([]store.Clause, *fhirError) {
	not := false
	switch mod {
	case "":
	case "not":
		not = true
	default:
		return nil, refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam, "unsupported modifier on "+name)
	}
	var out []store.Clause
	for _, v := range values {
		c := store.Clause{Param: name, Not: not}
		for _, alt := range splitOr(v) {
			c.Any = append(c.Any, cond(unescape(alt)))
		}
		out = append(out, c)
	}
	return out, nil
}

func dateClauses(name, mod string, values []string) ([]store.Clause, *fhirError) {
	if mod != "" {
		return nil, refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam, "unsupported modifier on "+name)
	}
	var out []store.Clause
	for _, v := range values {
		c := store.Clause{Param: name}
		for _, alt := range splitOr(v) {
			cmp := "eq"
			if len(alt) > 2 && datePrefixes[alt[:2]] {
				cmp, alt = alt[:2], alt[2:]
			} else if len(alt) > 2 && alt[:2] == "ap" {
				return nil, refuse(http.StatusBadRequest, "not-supported", CodeNotSupported, "the ap prefix is not supported")
			}
			lo, hi, ok := parseDate(alt)
			if !ok {
				return nil, badParam(name + " takes a FHIR date, dateTime or instant, optionally after a prefix (eq, ne, lt, le, gt, ge, sa, eb)")
			}
			c.Any = append(c.Any, store.Cond{Kind: store.MatchRange, Cmp: cmp, Lo: lo, Hi: hi})
		}
		out = append(out, c)
	}
	return out, nil
}

func paramClauses(p param, mod string, values []string, base string) ([]store.Clause, *fhirError) {
	switch p.kind {
	case kDate:
		return dateClauses(p.name, mod, values)
	case kString:
		kindOf := map[string]store.CondKind{"": store.MatchPrefix, "exact": store.MatchExact, "contains": store.MatchContains}
		k, ok := kindOf[mod]
		if !ok {
			return nil, refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam, "unsupported modifier on "+p.name)
		}
		return simpleClauses(p.name, "", values, func(v string) store.Cond { return store.Cond{Kind: k, Value: normString(v)} })
	case kURI:
		return simpleClauses(p.name, mod, values, func(v string) store.Cond { return store.Cond{Kind: store.MatchExact, Value: v} })
	case kToken:
		return simpleClauses(p.name, mod, values, tokenCond)
	case kReference:
		switch {
		case mod == "identifier":
			out, fe := simpleClauses(p.name+":identifier", "", values, tokenCond)
			return out, fe
		case mod == "":
		case len(mod) > 0 && mod[0] >= 'A' && mod[0] <= 'Z': // :Patient
		default:
			return nil, refuse(http.StatusBadRequest, "not-supported", CodeUnknownParam, "unsupported modifier on "+p.name)
		}
		var out []store.Clause
		for _, v := range values {
			c := store.Clause{Param: p.name}
			for _, alt := range splitOr(v) {
				alt = unescape(alt)
				if mod != "" && !strings.Contains(alt, "/") {
					alt = mod + "/" + alt
				}
				if strings.Contains(alt, "/") {
					ref := localRef(alt, base)
					if ref == "" {
						ref = foreignRef(alt)
					}
					if ref == "" {
						return nil, badParam(p.name + " takes Type/id, an id or an absolute URL")
					}
					c.Any = append(c.Any, store.Cond{Kind: store.MatchExact, Value: ref})
					continue
				}
				for _, t := range p.targets {
					c.Any = append(c.Any, store.Cond{Kind: store.MatchExact, Value: t + "/" + alt})
				}
			}
			out = append(out, c)
		}
		return out, nil
	}
	return nil, badParam("unsupported parameter type")
}

func tokenCond(v string) store.Cond {
	sys, code, bar := splitToken(v)
	if !bar {
		return store.Cond{Kind: store.MatchToken, Value: code}
	}
	return store.Cond{Kind: store.MatchToken, HasSystem: true, System: sys, Value: code}
}

// Search runs a type-level search (GET with the query, or POST _search
// with a form body, whose parameters req.Query must already hold).
func (s *Server) Search(ctx context.Context, req *Request, typ string) Response {
	if fe := s.checkType(typ); fe != nil {
		return errResponse(fe)
	}
	if !req.allowed(typ, Search) {
		return errResponse(forbidden())
	}
	body, fe := s.search(ctx, req, typ, req.Query, s.st.Search, s.reader(req.Tenant))
	if fe != nil {
		return errResponse(fe)
	}
	return Response{Status: http.StatusOK, Header: http.Header{}, Body: body}
}

// searcher and reader are the store's Search and Read, of the store or of
// a transaction.
type (
	searcher func(ctx context.Context, tenant string, q store.Query) (store.Page, error)
	reader   func(ctx context.Context, typ, id string) (store.Resource, error)
)

func (s *Server) reader(tenant string) reader {
	return func(ctx context.Context, typ, id string) (store.Resource, error) {
		return s.st.Read(ctx, tenant, typ, id)
	}
}

// search runs a search (scopes already checked) and renders the searchset:
// confined to the caller's patient compartment when its grant is, with the
// included resources the caller may read.
func (s *Server) search(ctx context.Context, req *Request, typ string, vals url.Values, find searcher, read reader) ([]byte, *fhirError) {
	patient, fe := req.confine(typ, Search)
	if fe != nil {
		return nil, fe
	}
	q, used, fe := s.query(typ, vals, prefer(req.Header, "handling") == "lenient", req.Base)
	if fe != nil {
		return nil, fe
	}
	if patient != "" {
		q.Where = append(q.Where, compartmentClause(patient))
	}
	// Includes are fetched here, not by the store, so that they are
	// capped (MaxIncluded, MaxIncludedBytes) and each is checked against
	// the caller's scopes and compartment.
	incs := q.Include
	q.Include = nil
	page, err := find(ctx, req.Tenant, q)
	if err != nil {
		return nil, asFHIR(err)
	}
	var warn issue.List
	if len(incs) > 0 {
		page.Included, warn, err = s.included(ctx, req, typ, incs, page.Resources, read)
		if err != nil {
			return nil, asFHIR(err)
		}
	}
	return s.searchBundle(req, typ, q, used, page, warn), nil
}

func (s *Server) searchBundle(req *Request, typ string, q store.Query, used url.Values, page store.Page, warn issue.List) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","id":"`)
	b.WriteString(newID())
	b.WriteString(`","meta":{"lastUpdated":"`)
	b.WriteString(instant(s.now()))
	b.WriteString(`"},"type":"searchset","total":`)
	b.WriteString(strconv.Itoa(page.Total))
	b.WriteString(`,"link":[`)
	link := func(rel string, offset int, first bool) {
		if !first {
			b.WriteByte(',')
		}
		v := url.Values{}
		for k, vs := range used {
			v[k] = vs
		}
		if offset > 0 {
			v.Set("_offset", strconv.Itoa(offset))
		}
		if _, ok := v["_count"]; !ok && q.Count != DefaultCount {
			v.Set("_count", strconv.Itoa(q.Count))
		}
		u := req.Base + "/" + typ
		if enc := v.Encode(); enc != "" {
			u += "?" + enc
		}
		b.WriteString(`{"relation":"` + rel + `","url":`)
		writeString(&b, u)
		b.WriteByte('}')
	}
	link("self", q.Offset, true)
	if q.Count > 0 {
		link("first", 0, false)
		if q.Offset > 0 {
			link("previous", max(q.Offset-q.Count, 0), false)
		}
		// A page cut at MaxPageBytes holds fewer than _count: the next
		// starts after its last resource, so nothing is skipped.
		next := q.Offset + q.Count
		if page.Cut {
			next = q.Offset + len(page.Resources)
		}
		if next < page.Total {
			link("next", next, false)
		}
		if page.Total > 0 {
			link("last", (page.Total-1)/q.Count*q.Count, false)
		}
	}
	b.WriteByte(']')
	if len(page.Resources)+len(page.Included)+len(warn) > 0 {
		b.WriteString(`,"entry":[`)
		first := true
		entry := func(r store.Resource, mode string) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(`{"fullUrl":`)
			writeString(&b, req.Base+"/"+r.Type+"/"+r.ID)
			b.WriteString(`,"resource":`)
			b.Write(r.Body)
			b.WriteString(`,"search":{"mode":"` + mode + `"}}`)
		}
		for _, r := range page.Resources {
			entry(r, "match")
		}
		for _, r := range page.Included {
			entry(r, "include")
		}
		if len(warn) > 0 {
			if !first {
				b.WriteByte(',')
			}
			b.WriteString(`{"resource":`)
			b.Write(Outcome(warn))
			b.WriteString(`,"search":{"mode":"outcome"}}`)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes()
}
