package api

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEPRLoad is a load generator against the mock EPR on 127.0.0.1:
// the whole stack (gin, developer-token check, traffic recording, SQLite)
// serving reads (80 %) and searches (20 %) to 16 keep-alive clients in the
// same process, bounded to loadRequests requests or loadTime. It reports
// requests/s and the 50th/99th latency percentiles. Run:
//
//	go test -run '^$' -bench EPRLoad -benchtime 1x ./sandbox/api
const (
	loadRequests = 30000
	loadTime     = 15 * time.Second
	loadClients  = 16
)

func BenchmarkEPRLoad(b *testing.B) {
	f := newSandbox(b, 20)
	a := f.tenant(b, "load")
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	base := srv.URL + "/t/" + a.Tenant.ID + "/fhir"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients, MaxConnsPerHost: loadClients}}
	get := func(url string) (int, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, body
	}
	// The ids to read.
	var reads []string
	var patients []string
	for _, typ := range []string{"Patient", "Observation", "Condition"} {
		_, body := get(base + "/" + typ + "?_count=200")
		var bundle struct {
			Entry []struct {
				Resource struct{ ResourceType, ID string }
			}
		}
		json.Unmarshal(body, &bundle)
		for _, e := range bundle.Entry {
			reads = append(reads, base+"/"+e.Resource.ResourceType+"/"+e.Resource.ID)
			if typ == "Patient" {
				patients = append(patients, e.Resource.ID)
			}
		}
	}
	if len(patients) == 0 {
		b.Fatal("no seeded patients")
	}
	searches := []string{}
	for _, p := range patients {
		searches = append(searches, base+"/Observation?patient="+p+"&_count=10&_sort=-date", base+"/Condition?patient="+p)
	}
	searches = append(searches, base+"/Patient?family=h", base+"/Patient?birthdate=ge1950&_count=10")
	for b.Loop() {
		var n, errs atomic.Int64
		lat := make([][]time.Duration, loadClients)
		deadline := time.Now().Add(loadTime)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range loadClients {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for time.Now().Before(deadline) && n.Add(1) <= loadRequests {
					url := reads[r.IntN(len(reads))]
					if r.IntN(5) == 0 {
						url = searches[r.IntN(len(searches))]
					}
					t0 := time.Now()
					if status, _ := get(url); status != 200 {
						errs.Add(1)
					}
					lat[w] = append(lat[w], time.Since(t0))
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		slices.Sort(all)
		if errs.Load() > 0 {
			b.Fatalf("%d requests failed", errs.Load())
		}
		pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000 }
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
		b.ReportMetric(pct(0.50), "p50_ms")
		b.ReportMetric(pct(0.99), "p99_ms")
		b.ReportMetric(float64(len(all)), "requests")
		f.rec.Flush(context.Background())
		b.ReportMetric(float64(f.rec.Dropped()), "traffic_dropped")
	}
}
