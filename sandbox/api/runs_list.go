package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// CodeRunEnded: a cancel of a run that had already ended.
const CodeRunEnded = "run-ended"

// DefaultRunPage is the page size of GET /t/{tenant}/runs without _count;
// store.MaxRunPage is the most a page holds.
const DefaultRunPage = 20

// RunPageJSON is a page of runs: newest first, without reports; Next, when
// there may be more, is the path of the next page.
type RunPageJSON struct {
	Runs []RunJSON `json:"runs"`
	Next string    `json:"next,omitempty"`
}

// listRuns is GET /t/{tenant}/runs[?status=S][&_count=N][&before=CURSOR]:
// the tenant's runs, newest first, N a page (1 to store.MaxRunPage).
func (h *sandboxRoutes) listRuns(c *gin.Context) {
	if !h.runsOn(c) {
		return
	}
	q := store.RunQuery{Tenant: c.Param("tenant"), Limit: DefaultRunPage}
	for k := range c.Request.URL.Query() {
		if k != "status" && k != "_count" && k != "before" {
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "unknown parameter "+strconv.Quote(clipName(k))+" (status, _count, before)")
			return
		}
	}
	if v, ok := c.GetQuery("status"); ok {
		switch st := store.RunStatus(v); st {
		case store.RunQueued, store.RunRunning, store.RunPassed, store.RunFailed, store.RunError:
			q.Status = st
		default:
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "status must be queued, running, passed, failed or error")
			return
		}
	}
	if v, ok := c.GetQuery("_count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxRunPage {
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "_count must be a number from 1 to "+strconv.Itoa(store.MaxRunPage))
			return
		}
		q.Limit = n
	}
	if v, ok := c.GetQuery("before"); ok {
		ms, id, found := strings.Cut(v, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !found || err != nil || n <= 0 || id == "" || len(id) > 200 {
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "before must be the cursor of a page's next link")
			return
		}
		q.BeforeCreated, q.BeforeID = time.UnixMilli(n).UTC(), id
	}
	rs, err := h.sb.Runs.List(c.Request.Context(), q)
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	out := RunPageJSON{Runs: make([]RunJSON, 0, len(rs))}
	for _, r := range rs {
		out.Runs = append(out.Runs, runJSON(r))
	}
	if len(rs) == q.Limit {
		last := rs[len(rs)-1]
		next := url.Values{"_count": {strconv.Itoa(q.Limit)}, "before": {strconv.FormatInt(last.Created.UnixMilli(), 10) + "." + last.ID}}
		if q.Status != "" {
			next.Set("status", string(q.Status))
		}
		out.Next = "/t/" + q.Tenant + "/runs?" + next.Encode()
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// cancelRun is POST /t/{tenant}/runs/{id}/cancel: 200 with the run ended
// when it was queued, 202 when it was running (it stops at its owner's next
// heartbeat, without a certificate), 409 when it had already ended.
func (h *sandboxRoutes) cancelRun(c *gin.Context) {
	if !h.runsOn(c) {
		return
	}
	r, err := h.sb.Runs.Cancel(c.Request.Context(), c.Param("tenant"), c.Param("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.refuse(c, http.StatusNotFound, "not-found", CodeRunNotFound, "no such run in this tenant")
	case errors.Is(err, store.ErrConflict):
		h.refuse(c, http.StatusConflict, "business-rule", CodeRunEnded, "the run had already ended ("+string(r.Status)+"): nothing to cancel")
	case err != nil:
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
	case r.Status.Done():
		c.JSON(http.StatusOK, runJSON(r))
	default:
		c.JSON(http.StatusAccepted, runJSON(r))
	}
}
