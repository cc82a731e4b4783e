package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/runs"
)

// Runs are listed newest first in bounded pages with a status filter, and
// cancelled: a queued run at once (200), a running one at its next
// heartbeat (202), an ended one not at all (409).
func TestRunListAndCancel(t *testing.T) {
	f := newRunsSandboxWith(t, runs.Options{Workers: 1, Heartbeat: 20 * time.Millisecond})
	a, b := f.tenant(t, "A"), f.tenant(t, "B")
	path := "/t/" + a.Tenant.ID + "/runs"
	var ids []string
	for range 3 {
		r := f.do(t, a.Token, "POST", path, `{"suite":"smart-app","wait":"10m"}`, "Content-Type", "application/json")
		if r.status != http.StatusAccepted {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		ids = append(ids, r.json["id"].(string))
		time.Sleep(3 * time.Millisecond) // distinct creation times, so "newest" is defined
	}
	if r := f.do(t, b.Token, "POST", "/t/"+b.Tenant.ID+"/runs", `{"suite":"smart-app","wait":"0s"}`, "Content-Type", "application/json"); r.status != http.StatusAccepted {
		t.Fatalf("create B: %d", r.status)
	}
	status := func(id string) map[string]any {
		return f.do(t, a.Token, "GET", path+"/"+id, "").json
	}
	// One worker: the oldest runs, the others wait.
	deadline := time.Now().Add(time.Minute)
	for status(ids[0])["status"] != "running" {
		if time.Now().After(deadline) {
			t.Fatalf("the first run never started: %v", status(ids[0]))
		}
		time.Sleep(5 * time.Millisecond)
	}
	list := func(query string) (got []string, next string) {
		t.Helper()
		r := f.do(t, a.Token, "GET", query, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", query, r.status, r.body)
		}
		var page RunPageJSON
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, run := range page.Runs {
			if len(run.Report) != 0 {
				t.Errorf("a listed run carries its report")
			}
			got = append(got, run.ID)
		}
		return got, page.Next
	}
	got, next := list(path + "?_count=2")
	if strings.Join(got, " ") != ids[2]+" "+ids[1] || next == "" {
		t.Fatalf("first page %v (next %q), want %v newest first with a next link", got, next, []string{ids[2], ids[1]})
	}
	got2, next2 := list(next)
	if strings.Join(got2, " ") != ids[0] || next2 != "" {
		t.Fatalf("second page %v (next %q), want [%s] and no next", got2, next2, ids[0])
	}
	if got, _ := list(path + "?status=queued"); strings.Join(got, " ") != ids[2]+" "+ids[1] {
		t.Errorf("status=queued: %v", got)
	}
	if got, _ := list(path + "?status=running"); strings.Join(got, " ") != ids[0] {
		t.Errorf("status=running: %v", got)
	}
	for _, bad := range []string{"?_count=0", "?_count=101", "?_count=x", "?status=done", "?before=nope", "?colour=red"} {
		if r := f.do(t, a.Token, "GET", path+bad, ""); r.status != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", bad, r.status)
		}
	}

	// Queued: ended at once, never claimed.
	r := f.do(t, a.Token, "POST", path+"/"+ids[1]+"/cancel", "")
	if r.status != http.StatusOK || r.json["status"] != "error" || r.json["message"] != runs.CancelMessage || r.json["cancelRequested"] != true {
		t.Fatalf("cancel of a queued run: %d %s", r.status, r.body)
	}
	// Running: accepted, and it stops at its next heartbeat.
	if r := f.do(t, a.Token, "POST", path+"/"+ids[0]+"/cancel", ""); r.status != http.StatusAccepted || r.json["status"] != "running" {
		t.Fatalf("cancel of a running run: %d %s", r.status, r.body)
	}
	for s := status(ids[0]); s["status"] != "error"; s = status(ids[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled run goes on: %v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := status(ids[0]); s["message"] != runs.CancelMessage || s["outcome"] != "error" {
		t.Fatalf("cancelled run: %v", s)
	}
	if r := f.do(t, a.Token, "POST", path+"/"+ids[0]+"/cancel", ""); r.status != http.StatusConflict || !strings.Contains(string(r.body), "already ended") {
		t.Errorf("cancel of an ended run: %d %s", r.status, r.body)
	}
	if r := f.do(t, a.Token, "POST", path+"/run-nope/cancel", ""); r.status != http.StatusNotFound {
		t.Errorf("cancel of no run: %d", r.status)
	}
	// The worker took the last run once the first was cancelled; the
	// cancelled queued one was never claimed.
	for status(ids[2])["status"] != "running" {
		if time.Now().After(deadline) {
			t.Fatalf("the third run never started: %v", status(ids[2]))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := status(ids[1]); s["started"] != nil || s["status"] != "error" {
		t.Errorf("the cancelled queued run was claimed: %v", s)
	}
	if r := f.do(t, a.Token, "POST", path+"/"+ids[2]+"/cancel", ""); r.status != http.StatusAccepted {
		t.Errorf("cancel of the third run: %d", r.status)
	}
}
