package epr

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// op is one entry of a batch or transaction.
type op struct {
	index       int
	method      string
	typ, id     string
	vid         string
	query       url.Values // GET search
	search      bool
	res         *parsed
	ifMatch     string
	ifNoneExist string
	fe          *fhirError // refused before execution (batch)
	// results
	status string
	out    store.Resource
	body   []byte // GET: resource or searchset
}

// MaxBundleEntries bounds the entries of one batch or transaction.
const MaxBundleEntries = 10000

// Bundle processes a batch or transaction Bundle posted to the base.
// A transaction is atomic: every entry is checked (syntax, validation,
// scopes) before anything is written, the writes run in one store
// transaction, and any failure leaves nothing written.
func (s *Server) Bundle(ctx context.Context, req *Request) Response {
	p, fe := s.parse(req.Body, "")
	if fe != nil {
		return errResponse(fe)
	}
	if p.typ != "Bundle" {
		return Fail(http.StatusBadRequest, "invalid", CodeBadBundle, "POST to the base takes a batch or transaction Bundle")
	}
	kind := str(p.root, "type")
	if kind != "transaction" && kind != "batch" {
		return Fail(http.StatusBadRequest, "invalid", CodeBadBundle, "Bundle.type must be transaction or batch")
	}
	var entries []*fhirjson.Node
	if e := p.root.Get("entry"); e != nil && e.Kind == fhirjson.Array {
		entries = e.Items
	}
	if len(entries) > MaxBundleEntries {
		return Fail(http.StatusRequestEntityTooLarge, "too-long", CodeBadBundle, "the Bundle has more entries than the sandbox accepts")
	}
	ops := make([]*op, len(entries))
	refs := map[string]string{}
	for i, e := range entries {
		o, fe := s.readEntry(req, p.body, e, i)
		if fe != nil && kind == "transaction" {
			return errResponse(atEntry(fe, i, ""))
		}
		o.fe = fe
		ops[i] = o
		if fe == nil && kind == "transaction" && (o.method == "POST" || o.method == "PUT") {
			if full := str(e, "fullUrl"); full != "" {
				refs[full] = o.typ + "/" + o.id
			}
		}
	}
	// Resolve references to other entries' fullUrls (urn:uuid:…), then
	// validate every resource as it will be stored.
	for i, o := range ops {
		if o.fe != nil || o.res == nil {
			continue
		}
		if len(refs) > 0 {
			start := int(entries[i].Get("resource").Off)
			if edits := referenceEdits(p.body, entries[i].Get("resource"), refs, start, nil); len(edits) > 0 {
				body := apply(p.body[start:fhirjson.ValueEnd(p.body, start)], edits)
				np, fe := s.parse(body, o.typ)
				if fe != nil {
					return errResponse(atEntry(fe, i, o.typ))
				}
				o.res = np
			}
		}
		if fe := s.validate(ctx, o.res); fe != nil {
			if kind == "transaction" {
				return errResponse(atEntry(fe, i, o.typ))
			}
			o.fe = fe
		}
	}
	if kind == "batch" {
		for _, o := range ops {
			if o.fe != nil {
				continue
			}
			err := s.st.Update(ctx, req.Tenant, func(tx store.Tx) error { return s.execute(ctx, tx, req, o) })
			if err != nil {
				o.fe = asFHIR(err)
			}
		}
		return Response{Status: http.StatusOK, Header: http.Header{}, Body: s.responseBundle(req, "batch-response", ops)}
	}
	// FHIR's order of processing: DELETE, POST, PUT, GET.
	order := map[string]int{"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}
	err := s.st.Update(ctx, req.Tenant, func(tx store.Tx) error {
		for pass := 0; pass < 4; pass++ {
			for _, o := range ops {
				if order[o.method] != pass {
					continue
				}
				if err := s.execute(ctx, tx, req, o); err != nil {
					return entryError{o.index, o.typ, err}
				}
			}
		}
		return nil
	})
	if err != nil {
		var ee entryError
		if errors.As(err, &ee) {
			return errResponse(atEntry(asFHIR(ee.err), ee.index, ee.typ))
		}
		return errResponse(err)
	}
	return Response{Status: http.StatusOK, Header: http.Header{}, Body: s.responseBundle(req, "transaction-response", ops)}
}

type entryError struct {
	index int
	typ   string
	err   error
}

func (e entryError) Error() string { return e.err.Error() }
func (e entryError) Unwrap() error { return e.err }

func asFHIR(err error) *fhirError {
	var fe *fhirError
	if errors.As(err, &fe) {
		return fe
	}
	return internal(err)
}

// atEntry points a refusal's issues at a Bundle entry.
func atEntry(fe *fhirError, i int, typ string) *fhirError {
	out := &fhirError{status: fe.status, issues: append(fe.issues[:0:0], fe.issues...)}
	prefix := "Bundle.entry[" + strconv.Itoa(i) + "]"
	for k := range out.issues {
		e := out.issues[k].Expression
		switch {
		case e == "":
			out.issues[k].Expression = prefix
		case typ != "" && (e == typ || strings.HasPrefix(e, typ+".")):
			out.issues[k].Expression = prefix + ".resource" + e[len(typ):]
		default:
			out.issues[k].Expression = prefix + ".resource." + e
		}
		out.issues[k].Line, out.issues[k].Column = 0, 0
	}
	return out
}

func (s *Server) readEntry(req *Request, data []byte, e *fhirjson.Node, i int) (*op, *fhirError) {
	o := &op{index: i}
	rq := e.Get("request")
	if rq == nil || rq.Kind != fhirjson.Object {
		return o, badBundle("an entry has no request")
	}
	o.method = str(rq, "method")
	o.ifMatch, o.ifNoneExist = str(rq, "ifMatch"), str(rq, "ifNoneExist")
	raw := str(rq, "url")
	raw = strings.TrimPrefix(raw, req.Base+"/")
	path, query, _ := strings.Cut(raw, "?")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	o.typ = segs[0]
	if fe := s.checkType(o.typ); fe != nil {
		return o, fe
	}
	access := map[string]Access{"GET": Read, "POST": Create, "PUT": Update, "DELETE": Delete}
	a, ok := access[o.method]
	if !ok {
		return o, refuse(http.StatusBadRequest, "not-supported", CodeNotSupported, "entry.request.method must be GET, POST, PUT or DELETE")
	}
	if o.method == "GET" && len(segs) == 1 {
		a = Search
	}
	if !req.allowed(o.typ, a) {
		return o, forbidden()
	}
	if query != "" && o.method != "GET" {
		return o, refuse(http.StatusBadRequest, "not-supported", CodeNotSupported, "conditional update and delete are not supported; use Type/id")
	}
	switch o.method {
	case "POST":
		if len(segs) != 1 {
			return o, badBundle("a POST entry's url is the resource type")
		}
		o.id = newID()
	case "PUT", "DELETE":
		if len(segs) != 2 {
			return o, badBundle("a " + o.method + " entry's url is Type/id")
		}
		o.id = segs[1]
		if !validID(o.id) {
			return o, badBundle("the entry's url has no valid id")
		}
	case "GET":
		switch len(segs) {
		case 1:
			o.search = true
			q, err := url.ParseQuery(query)
			if err != nil {
				return o, badParam("the entry's search query cannot be read")
			}
			o.query = q
		case 2:
			o.id = segs[1]
		case 4:
			if segs[2] != "_history" {
				return o, badBundle("a GET entry's url is Type, Type/id or Type/id/_history/v")
			}
			o.id, o.vid = segs[1], segs[3]
		default:
			return o, badBundle("a GET entry's url is Type, Type/id or Type/id/_history/v")
		}
	}
	if o.method == "POST" || o.method == "PUT" {
		r := e.Get("resource")
		if r == nil || r.Kind != fhirjson.Object {
			return o, badBundle("a " + o.method + " entry needs a resource")
		}
		p, fe := s.parse(data[r.Off:fhirjson.ValueEnd(data, int(r.Off))], o.typ)
		if fe != nil {
			return o, fe
		}
		if o.method == "PUT" {
			if fe := checkBodyID(p, o.id); fe != nil {
				return o, fe
			}
		}
		o.res = p
	}
	return o, nil
}

func badBundle(msg string) *fhirError {
	return refuse(http.StatusBadRequest, "invalid", CodeBadBundle, msg)
}

// execute runs one entry inside a store transaction.
func (s *Server) execute(ctx context.Context, tx store.Tx, req *Request, o *op) error {
	var w written
	var err error
	switch o.method {
	case "POST":
		w, err = s.txCreate(ctx, tx, o.res, o.id, o.ifNoneExist)
	case "PUT":
		w, err = s.txUpdate(ctx, tx, o.res, o.id, o.ifMatch)
	case "DELETE":
		w, err = s.txDelete(ctx, tx, o.typ, o.id, o.ifMatch)
	case "GET":
		return s.executeGet(ctx, tx, req, o)
	}
	if err != nil {
		return err
	}
	o.out = w.res
	o.status = strconv.Itoa(w.status) + " " + http.StatusText(w.status)
	if w.status == http.StatusNoContent {
		o.status = "204 No Content"
	}
	return nil
}

func (s *Server) executeGet(ctx context.Context, tx store.Tx, req *Request, o *op) error {
	if o.search {
		q, used, fe := s.query(o.typ, o.query, prefer(req.Header, "handling") == "lenient")
		if fe != nil {
			return fe
		}
		page, err := tx.Search(ctx, q)
		if err != nil {
			return err
		}
		s.filterIncluded(req, &page)
		o.body = s.searchBundle(req, o.typ, q, used, page)
		o.status = "200 OK"
		return nil
	}
	r, err := tx.Read(ctx, o.typ, o.id)
	if err == nil && o.vid != "" && strconv.FormatInt(r.Version, 10) != o.vid {
		// Older versions live outside the transaction's view of the
		// current rows; read them from the store.
		v, perr := strconv.ParseInt(o.vid, 10, 64)
		if perr != nil {
			return refuse(http.StatusNotFound, "not-found", CodeNotFound, "no such version")
		}
		r, err = s.st.ReadVersion(ctx, req.Tenant, o.typ, o.id, v)
	}
	if errors.Is(err, store.ErrNotFound) {
		return refuse(http.StatusNotFound, "not-found", CodeNotFound, "no resource of this type with this id")
	}
	if err != nil {
		return err
	}
	if r.Deleted {
		return refuse(http.StatusGone, "deleted", CodeGone, "the resource has been deleted")
	}
	o.out, o.body, o.status = r, r.Body, "200 OK"
	return nil
}

func (s *Server) responseBundle(req *Request, typ string, ops []*op) []byte {
	representation := prefer(req.Header, "return") == "representation"
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","id":"` + newID() + `","type":"` + typ + `","entry":[`)
	for i, o := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		if o.fe != nil {
			b.WriteString(`"response":{"status":"` + strconv.Itoa(o.fe.status) + " " + http.StatusText(o.fe.status) + `","outcome":`)
			b.Write(Outcome(o.fe.issues))
			b.WriteString(`}}`)
			continue
		}
		if o.out.ID != "" && !o.search {
			b.WriteString(`"fullUrl":`)
			writeString(&b, req.Base+"/"+o.out.Type+"/"+o.out.ID)
			b.WriteByte(',')
		}
		body := o.body
		if body == nil && representation && !o.out.Deleted {
			body = o.out.Body
		}
		if len(body) > 0 {
			b.WriteString(`"resource":`)
			b.Write(body)
			b.WriteByte(',')
		}
		b.WriteString(`"response":{"status":`)
		writeString(&b, o.status)
		if o.out.ID != "" && !o.search {
			if o.method == "POST" || o.method == "PUT" {
				b.WriteString(`,"location":`)
				writeString(&b, req.Base+"/"+o.out.Type+"/"+o.out.ID+"/_history/"+itoa(o.out.Version))
			}
			b.WriteString(`,"etag":`)
			writeString(&b, etag(o.out.Version))
			b.WriteString(`,"lastModified":"` + instant(o.out.Updated) + `"`)
		}
		b.WriteString(`}}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// filterIncluded drops included resources the caller may not read.
func (s *Server) filterIncluded(req *Request, page *store.Page) {
	if req.Allow == nil {
		return
	}
	kept := page.Included[:0]
	for _, r := range page.Included {
		if req.allowed(r.Type, Read) {
			kept = append(kept, r)
		}
	}
	page.Included = kept
}
