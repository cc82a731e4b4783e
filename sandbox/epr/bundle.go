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
	fe          *fhirError     // refused before execution (batch)
	full        string         // entry.fullUrl
	node        *fhirjson.Node // entry.resource as sent, to resolve references from
	conf        confinement    // POST: the compartment it is held to
	patient     string         // PUT, DELETE, GET: the compartment it is confined to
	matched     bool           // a conditional create found out
	// results
	status string
	out    store.Resource
	body   []byte // GET: resource or searchset
}

// Limits of one batch or transaction.
const (
	// MaxBundleEntries bounds the entries.
	MaxBundleEntries = 10000
	// MaxBundleResponseBytes bounds what the GET entries of one Bundle
	// read into the response (each search is a page with its includes,
	// so without it a Bundle of searches could hold thousands of pages).
	MaxBundleResponseBytes = 64 << 20
	// MaxBundleGets bounds the GET entries of one Bundle: a transaction
	// runs them all in one store transaction, which on SQLite holds the
	// one writer for as long as they take, so the response budget alone
	// (which a Bundle of small searches never reaches) is no bound on it.
	MaxBundleGets = 100
)

// CodeTooCostly refuses what would make one request read or hold more
// than the sandbox allows.
const CodeTooCostly = "too-costly"

// Bundle processes a batch or transaction Bundle posted to the base.
// A transaction is atomic: every entry is checked (syntax, validation,
// scopes) before anything is written, the writes run in one store
// transaction, and any failure leaves nothing written.
//
// References between the entries of a transaction are resolved as FHIR R4
// says (http.html#trules, bundle.html#references): a reference equal to
// an entry's fullUrl (urn:uuid:…, urn:oid:… or an absolute URL), or a
// relative reference that is an entry's fullUrl once resolved against the
// base of the referring entry's own fullUrl (the server's base when that
// is a urn), is rewritten to Type/id of the resource that entry creates or
// updates. When a conditional create (ifNoneExist) matches an existing
// resource, the references to that entry name the existing resource. A
// urn:uuid/urn:oid reference that no entry resolves is refused: stored, it
// would point nowhere.
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
	gets := 0
	for _, e := range entries {
		if rq := e.Get("request"); rq != nil && rq.Kind == fhirjson.Object && str(rq, "method") == "GET" {
			gets++
		}
	}
	if gets > s.lim.MaxBundleGets {
		return Fail(http.StatusRequestEntityTooLarge, "too-costly", CodeTooCostly, "the Bundle has "+strconv.Itoa(gets)+
			" GET entries and the sandbox takes at most "+strconv.Itoa(s.lim.MaxBundleGets)+" (MaxBundleGets) in one Bundle; split it")
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
		if fe == nil && kind == "transaction" && (o.method == "POST" || o.method == "PUT") && o.full != "" {
			if _, dup := refs[o.full]; dup {
				return errResponse(atEntry(badBundle("two entries that write a resource have the same fullUrl"), i, ""))
			}
			refs[o.full] = o.typ + "/" + o.id
		}
	}
	// Resolve references to other entries as they stand before any
	// conditional create is matched, then validate every resource as it
	// will be stored. A match found later changes only the id in a
	// Type/id reference, which the validation does not depend on.
	for _, o := range ops {
		if o.fe != nil || o.res == nil {
			continue
		}
		if kind == "transaction" {
			if fe := s.resolve(req, p.body, o, refs); fe != nil {
				return errResponse(fe)
			}
		}
		if fe := s.validate(ctx, o.res); fe != nil {
			if kind == "transaction" {
				return errResponse(atEntry(fe, o.index, o.typ))
			}
			o.fe = fe
		}
	}
	budget := s.lim.MaxBundleResponseBytes
	if kind == "batch" {
		for _, o := range ops {
			if o.fe != nil {
				continue
			}
			err := s.st.Update(ctx, req.Tenant, func(tx store.Tx) error { return s.execute(ctx, tx, req, o, &budget) })
			if err != nil {
				o.fe = asFHIR(err)
			}
		}
		return Response{Status: http.StatusOK, Header: http.Header{}, Body: s.responseBundle(req, "batch-response", ops)}
	}
	// FHIR's order of processing: DELETE, POST, PUT, GET; the conditional
	// creates are matched first among the POSTs, so that every reference
	// to them is known before anything is created.
	order := map[string]int{"DELETE": 0, "POST": 2, "PUT": 3, "GET": 4}
	err := s.st.Update(ctx, req.Tenant, func(tx store.Tx) error {
		for pass := 0; pass < 5; pass++ {
			if pass == 1 {
				if err := s.matchCreates(ctx, tx, req, p.body, ops, refs); err != nil {
					return err
				}
				continue
			}
			for _, o := range ops {
				if order[o.method] != pass {
					continue
				}
				if err := s.execute(ctx, tx, req, o, &budget); err != nil {
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

// matchCreates runs the ifNoneExist queries of a transaction's conditional
// creates. An entry that matches creates nothing and stands for the
// resource it matched: the references to its fullUrl are resolved again,
// from the bodies as sent, to name that resource.
func (s *Server) matchCreates(ctx context.Context, tx store.Tx, req *Request, data []byte, ops []*op, refs map[string]string) error {
	changed := false
	for _, o := range ops {
		if o.method != "POST" || o.ifNoneExist == "" {
			continue
		}
		if o.conf.write != "" && !inCompartment(o.typ, o.id, o.res.root, o.conf.write, req.Base) {
			return entryError{o.index, o.typ, outsideCompartment()}
		}
		r, found, err := s.match(ctx, tx, o.typ, o.ifNoneExist, o.conf.match, req.Base)
		if err != nil {
			return entryError{o.index, o.typ, err}
		}
		o.ifNoneExist = "" // matched once; execute creates unconditionally
		if !found {
			continue
		}
		o.matched, o.out, o.status = true, r, "200 OK"
		if o.full != "" {
			refs[o.full] = r.Type + "/" + r.ID
			changed = true
		}
	}
	if !changed {
		return nil
	}
	for _, o := range ops {
		if o.res == nil || o.matched {
			continue
		}
		if fe := s.resolve(req, data, o, refs); fe != nil {
			return fe
		}
	}
	return nil
}

// resolve sets o.res to the entry's resource as sent with its references
// to other entries rewritten by refs.
func (s *Server) resolve(req *Request, data []byte, o *op, refs map[string]string) *fhirError {
	if len(refs) == 0 && !mentionsURN(data[o.node.Off:fhirjson.ValueEnd(data, int(o.node.Off))]) {
		return nil
	}
	base := req.Base
	if b, ok := restBase(o.full); ok {
		base = b
	}
	unresolved := false
	lookup := func(ref string) (string, bool) {
		if to, ok := refs[ref]; ok {
			return to, true
		}
		if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
			unresolved = true
			return "", false
		}
		if ref == "" || ref[0] == '#' || strings.Contains(ref, ":") {
			return "", false // contained, or absolute and no entry's
		}
		to, ok := refs[base+"/"+ref]
		return to, ok
	}
	start := int(o.node.Off)
	edits := referenceEdits(data, o.node, lookup, start, nil)
	if unresolved {
		return atEntry(badBundle("a reference names a urn:uuid or urn:oid that is the fullUrl of no entry of the transaction"), o.index, "")
	}
	if len(edits) == 0 {
		return nil // o.res is the resource as sent
	}
	body := apply(data[start:fhirjson.ValueEnd(data, start)], edits)
	np, fe := s.parse(body, o.typ)
	if fe != nil {
		return atEntry(fe, o.index, o.typ)
	}
	o.res = np
	return nil
}

func mentionsURN(b []byte) bool { return bytes.Contains(b, []byte(`"urn:`)) }

// restBase returns the base of a RESTful absolute URL [base]/Type/id.
func restBase(full string) (string, bool) {
	if !strings.HasPrefix(full, "http://") && !strings.HasPrefix(full, "https://") {
		return "", false
	}
	i := strings.LastIndexByte(full, '/')
	if i < 0 {
		return "", false
	}
	j := strings.LastIndexByte(full[:i], '/')
	if j < len("https://") {
		return "", false
	}
	return full[:j], true
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
	var fe *fhirError
	if o.method == "POST" {
		o.conf, fe = req.writeConfinement(o.typ, o.ifNoneExist != "")
	} else {
		o.patient, fe = req.confine(o.typ, a)
	}
	if fe != nil {
		return o, fe
	}
	o.full = str(e, "fullUrl")
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
		o.node = r
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

// execute runs one entry inside a store transaction; budget is what is
// left of MaxBundleResponseBytes for GET entries.
func (s *Server) execute(ctx context.Context, tx store.Tx, req *Request, o *op, budget *int) error {
	var w written
	var err error
	switch o.method {
	case "POST":
		if o.matched {
			return nil
		}
		w, err = s.txCreate(ctx, tx, o.res, o.id, o.ifNoneExist, o.conf, req.Base)
	case "PUT":
		w, err = s.txUpdate(ctx, tx, o.res, o.id, o.ifMatch, o.patient, req.Base)
	case "DELETE":
		w, err = s.txDelete(ctx, tx, o.typ, o.id, o.ifMatch, o.patient, req.Base)
	case "GET":
		if err := s.executeGet(ctx, tx, req, o); err != nil {
			return err
		}
		if *budget -= len(o.body); *budget < 0 {
			o.body = nil
			return refuse(http.StatusBadRequest, "too-costly", CodeTooCostly, "the GET entries of this Bundle read more than "+
				strconv.Itoa(s.lim.MaxBundleResponseBytes)+" bytes; split it into smaller Bundles or ask for smaller pages")
		}
		return nil
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
		find := func(ctx context.Context, _ string, q store.Query) (store.Page, error) { return tx.Search(ctx, q) }
		body, fe := s.search(ctx, req, o.typ, o.query, find, tx.Read)
		if fe != nil {
			return fe
		}
		o.body, o.status = body, "200 OK"
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
		return s.gone(ctx, req, r, o.patient)
	}
	if o.patient != "" && !storedInCompartment(r, o.patient, req.Base) {
		return outsideCompartment()
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
