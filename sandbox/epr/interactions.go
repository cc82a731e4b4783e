package epr

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Metadata returns the CapabilityStatement.
func (s *Server) Metadata(ctx context.Context, req *Request) Response {
	return Response{Status: http.StatusOK, Header: http.Header{}, Body: s.meta}
}

// admit checks that the type is served here and that the token may do a
// on it, and returns the patient whose compartment confines the caller
// ("" when none does).
func (s *Server) admit(req *Request, typ string, a Access) (string, *fhirError) {
	if fe := s.checkType(typ); fe != nil {
		return "", fe
	}
	if !req.allowed(typ, a) {
		return "", forbidden()
	}
	return req.confine(typ, a)
}

// Read returns the current version of a resource.
func (s *Server) Read(ctx context.Context, req *Request, typ, id string) Response {
	patient, fe := s.admit(req, typ, Read)
	if fe != nil {
		return errResponse(fe)
	}
	r, err := s.st.Read(ctx, req.Tenant, typ, id)
	return s.readResponse(ctx, req, r, err, patient)
}

// VRead returns one version of a resource.
func (s *Server) VRead(ctx context.Context, req *Request, typ, id, vid string) Response {
	patient, fe := s.admit(req, typ, Read)
	if fe != nil {
		return errResponse(fe)
	}
	v, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || v <= 0 {
		return Fail(http.StatusNotFound, "not-found", CodeNotFound, "no such version: a version id is a positive integer")
	}
	r, err := s.st.ReadVersion(ctx, req.Tenant, typ, id, v)
	return s.readResponse(ctx, req, r, err, patient)
}

// readResponse answers a read; patient, when set, is the compartment the
// caller is confined to.
func (s *Server) readResponse(ctx context.Context, req *Request, r store.Resource, err error, patient string) Response {
	if errors.Is(err, store.ErrNotFound) {
		return Fail(http.StatusNotFound, "not-found", CodeNotFound, "no resource of this type with this id")
	}
	if err != nil {
		return errResponse(err)
	}
	if r.Deleted {
		if fe := s.gone(ctx, req, r, patient); fe.status != http.StatusGone {
			return errResponse(fe)
		}
		resp := Fail(http.StatusGone, "deleted", CodeGone, "the resource has been deleted")
		resp.Header.Set("ETag", etag(r.Version))
		return resp
	}
	if patient != "" && !storedInCompartment(r, patient, req.Base) {
		return errResponse(outsideCompartment())
	}
	return Response{Status: http.StatusOK, Header: resourceHeaders(req.Base, r), Body: r.Body}
}

// gone refuses a read of the deleted version r: 410, unless the caller is
// confined to patient's compartment and the version deleted was outside
// it, which is 403 as for the live resource, so that a 410 does not tell
// the caller that a resource it may not see existed. A delete always
// follows a live version (deleting a deleted resource writes nothing).
func (s *Server) gone(ctx context.Context, req *Request, r store.Resource, patient string) *fhirError {
	if patient != "" {
		live, err := s.st.ReadVersion(ctx, req.Tenant, r.Type, r.ID, r.Version-1)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return internal(err)
		}
		if err != nil || live.Deleted || !storedInCompartment(live, patient, req.Base) {
			return outsideCompartment()
		}
	}
	return refuse(http.StatusGone, "deleted", CodeGone, "the resource has been deleted")
}

func forbidden() *fhirError {
	return refuse(http.StatusForbidden, "forbidden", CodeForbidden, "the token's scopes do not allow this interaction on this resource type")
}

// written is the result of one write.
type written struct {
	status int // 200 or 201
	res    store.Resource
}

// Create creates a resource with a server-assigned id (If-None-Exist:
// only when no resource matches those search parameters).
func (s *Server) Create(ctx context.Context, req *Request, typ string) Response {
	if fe := s.checkType(typ); fe != nil {
		return errResponse(fe)
	}
	if !req.allowed(typ, Create) {
		return errResponse(forbidden())
	}
	c, fe := req.writeConfinement(typ, req.Header.Get("If-None-Exist") != "")
	if fe != nil {
		return errResponse(fe)
	}
	p, fe := s.parse(req.Body, typ)
	if fe != nil {
		return errResponse(fe)
	}
	if fe := s.validate(ctx, p); fe != nil {
		return errResponse(fe)
	}
	return s.commit(ctx, req, func(tx store.Tx) (written, error) {
		return s.txCreate(ctx, tx, p, newID(), req.Header.Get("If-None-Exist"), c, req.Base)
	})
}

// commit runs one write in its own store transaction and answers with what
// it wrote.
func (s *Server) commit(ctx context.Context, req *Request, write func(store.Tx) (written, error)) Response {
	var w written
	err := s.st.Update(ctx, req.Tenant, func(tx store.Tx) error {
		var err error
		w, err = write(tx)
		return err
	})
	if err != nil {
		return errResponse(err)
	}
	return s.writeResponse(req, w)
}

// Update replaces a resource (or creates it under the id given).
func (s *Server) Update(ctx context.Context, req *Request, typ, id string) Response {
	patient, fe := s.admit(req, typ, Update)
	if fe != nil {
		return errResponse(fe)
	}
	p, fe := s.parse(req.Body, typ)
	if fe != nil {
		return errResponse(fe)
	}
	if fe := checkBodyID(p, id); fe != nil {
		return errResponse(fe)
	}
	if fe := s.validate(ctx, p); fe != nil {
		return errResponse(fe)
	}
	return s.commit(ctx, req, func(tx store.Tx) (written, error) {
		return s.txUpdate(ctx, tx, p, id, req.Header.Get("If-Match"), patient, req.Base)
	})
}

// Delete deletes a resource (deleting what is absent or deleted succeeds).
func (s *Server) Delete(ctx context.Context, req *Request, typ, id string) Response {
	patient, fe := s.admit(req, typ, Delete)
	if fe != nil {
		return errResponse(fe)
	}
	err := s.st.Update(ctx, req.Tenant, func(tx store.Tx) error {
		_, err := s.txDelete(ctx, tx, typ, id, req.Header.Get("If-Match"), patient, req.Base)
		return err
	})
	if err != nil {
		return errResponse(err)
	}
	return Response{Status: http.StatusOK, Header: http.Header{}, Body: Outcome(issue.List{{
		Severity: issue.Information, Type: "informational", Code: "deleted", Message: "the resource is deleted"}})}
}

func checkBodyID(p *parsed, id string) *fhirError {
	if !validID(id) {
		return refuse(http.StatusBadRequest, "invalid", CodeIDMismatch, "the id in the URL is not a valid FHIR id")
	}
	bodyID := str(p.root, "id")
	if bodyID == "" {
		return refuse(http.StatusBadRequest, "required", CodeIDMismatch, "an update must carry the resource's id in the body")
	}
	if bodyID != id {
		return refuse(http.StatusBadRequest, "invalid", CodeIDMismatch, "the id in the body is not the id in the URL")
	}
	return nil
}

// confinement is the compartment a create is held to: the written
// resource must be in write's compartment, and a conditional create's
// match is looked for in match's only (else it could hand back another
// patient's resource). "" is no limit.
type confinement struct{ write, match string }

// writeConfinement is the confinement of a create of typ. A conditional
// create searches, and answers with the resource it matched, so it needs
// the search grant too: with create alone it would hand back resources the
// caller may not read.
func (r *Request) writeConfinement(typ string, conditional bool) (confinement, *fhirError) {
	w, fe := r.confine(typ, Create)
	if fe != nil {
		return confinement{}, fe
	}
	if !conditional {
		return confinement{write: w}, nil
	}
	if !r.allowed(typ, Search) {
		return confinement{}, refuse(http.StatusForbidden, "forbidden", CodeForbidden,
			"a conditional create (If-None-Exist) is a search, and the token's scopes do not allow searching this resource type")
	}
	m := w
	if m == "" {
		if m, fe = r.confine(typ, Search); fe != nil {
			return confinement{}, fe
		}
	}
	return confinement{write: w, match: m}, nil
}

// match runs an If-None-Exist query: the one resource it matches, or
// found false when none does.
func (s *Server) match(ctx context.Context, tx store.Tx, typ, ifNoneExist, patient, base string) (store.Resource, bool, error) {
	vals, err := url.ParseQuery(ifNoneExist)
	if err != nil || len(vals) == 0 {
		return store.Resource{}, false, refuse(http.StatusBadRequest, "invalid", CodeBadParam, "If-None-Exist is not a search query")
	}
	q, _, fe := s.query(typ, vals, false, base)
	if fe != nil {
		return store.Resource{}, false, fe
	}
	if len(q.Where) == 0 {
		// Only result parameters (_count, _summary, …): that would
		// match every resource of the type and hand one back.
		return store.Resource{}, false, refuse(http.StatusBadRequest, "invalid", CodeBadParam, "If-None-Exist has no search criteria")
	}
	if patient != "" {
		q.Where = append(q.Where, compartmentClause(patient))
	}
	q.Count, q.Sort, q.Include, q.Total, q.Offset = 2, nil, nil, false, 0
	page, err := tx.Search(ctx, q)
	if err != nil {
		return store.Resource{}, false, err
	}
	switch len(page.Resources) {
	case 0:
		return store.Resource{}, false, nil
	case 1:
		return page.Resources[0], true, nil
	}
	return store.Resource{}, false, refuse(http.StatusPreconditionFailed, "multiple-matches", CodeMultipleMatches,
		"If-None-Exist matches more than one resource")
}

func (s *Server) txCreate(ctx context.Context, tx store.Tx, p *parsed, id, ifNoneExist string, c confinement, base string) (written, error) {
	if c.write != "" && !inCompartment(p.typ, id, p.root, c.write, base) {
		return written{}, outsideCompartment()
	}
	if ifNoneExist != "" {
		r, found, err := s.match(ctx, tx, p.typ, ifNoneExist, c.match, base)
		if err != nil {
			return written{}, err
		}
		if found {
			return written{status: http.StatusOK, res: r}, nil
		}
	}
	return s.put(ctx, tx, p, id, base)
}

// put writes a parsed resource as version 1 of a new id.
func (s *Server) put(ctx context.Context, tx store.Tx, p *parsed, id, base string) (written, error) {
	r := s.prepare(p, id, 1)
	if err := tx.Put(ctx, r, extract(p.typ, id, p.root, base), 0); err != nil {
		return written{}, err
	}
	return written{status: http.StatusCreated, res: r}, nil
}

// txUpdate replaces typ/id; patient, when set, is the compartment both the
// replaced and the new version must be in (else an update could move
// another patient's resource into the caller's reach).
func (s *Server) txUpdate(ctx context.Context, tx store.Tx, p *parsed, id, ifMatch, patient, base string) (written, error) {
	cur, err := tx.Read(ctx, p.typ, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return written{}, err
	}
	if patient != "" {
		if !inCompartment(p.typ, id, p.root, patient, base) || (err == nil && !cur.Deleted && !storedInCompartment(cur, patient, base)) {
			return written{}, outsideCompartment()
		}
	}
	if fe := checkMatch(ifMatch, cur, err == nil); fe != nil {
		return written{}, fe
	}
	status := http.StatusOK
	if err != nil || cur.Deleted {
		status = http.StatusCreated
	}
	r := s.prepare(p, id, cur.Version+1)
	if err := tx.Put(ctx, r, extract(p.typ, id, p.root, base), cur.Version); err != nil {
		return written{}, err
	}
	return written{status: status, res: r}, nil
}

func (s *Server) txDelete(ctx context.Context, tx store.Tx, typ, id, ifMatch, patient, base string) (written, error) {
	cur, err := tx.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		if ifMatch != "" {
			return written{}, refuse(http.StatusPreconditionFailed, "conflict", CodePrecondition, "If-Match names a version of a resource that does not exist")
		}
		return written{status: http.StatusNoContent}, nil
	}
	if err != nil {
		return written{}, err
	}
	if patient != "" && !cur.Deleted && !storedInCompartment(cur, patient, base) {
		return written{}, outsideCompartment()
	}
	if fe := checkMatch(ifMatch, cur, true); fe != nil {
		return written{}, fe
	}
	if cur.Deleted {
		return written{status: http.StatusNoContent, res: cur}, nil
	}
	r := store.Resource{Type: typ, ID: id, Version: cur.Version + 1, Updated: s.now().UTC().Truncate(timeMS), Deleted: true}
	if err := tx.Put(ctx, r, nil, cur.Version); err != nil {
		return written{}, err
	}
	return written{status: http.StatusNoContent, res: r}, nil
}

// checkMatch enforces If-Match: the current version must be the one named.
func checkMatch(ifMatch string, cur store.Resource, exists bool) *fhirError {
	if ifMatch == "" {
		return nil
	}
	v, ok := parseETag(ifMatch)
	if !ok {
		return refuse(http.StatusBadRequest, "invalid", CodePrecondition, `If-Match must be a version ETag like W/"3"`)
	}
	if !exists || cur.Deleted || cur.Version != v {
		return refuse(http.StatusPreconditionFailed, "conflict", CodePrecondition,
			"If-Match names a version that is not the current one; read the resource again")
	}
	return nil
}

const timeMS = 1e6 // time.Millisecond, untyped for Truncate

// prepare stamps a parsed resource as version v of id.
func (s *Server) prepare(p *parsed, id string, v int64) store.Resource {
	now := s.now().UTC().Truncate(timeMS)
	return store.Resource{Type: p.typ, ID: id, Version: v, Updated: now, Body: stamp(p.body, p.root, p.typ, id, v, now)}
}

func (s *Server) writeResponse(req *Request, w written) Response {
	h := resourceHeaders(req.Base, w.res)
	h.Set("Location", h.Get("Content-Location"))
	switch prefer(req.Header, "return") {
	case "minimal":
		return Response{Status: w.status, Header: h}
	case "OperationOutcome":
		return Response{Status: w.status, Header: h, Body: Outcome(issue.List{{Severity: issue.Information, Type: "informational",
			Code: "written", Message: "the resource was written"}})}
	}
	return Response{Status: w.status, Header: h, Body: w.res.Body}
}
