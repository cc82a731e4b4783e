package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read the log while the server writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeStartsAnswersAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, stdio{in: strings.NewReader(""), out: &logs, err: &logs})
	}()
	addr := ""
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); {
		for _, line := range strings.Split(logs.String(), "\n") {
			var e struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "listening" {
				addr = e.Addr
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d:\n%s", code, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("no listening line:\n%s", logs.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	resp, err = http.Post("http://"+addr+"/fhir/$validate", "application/fhir+json", strings.NewReader(okPatient))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("$validate: %d", resp.StatusCode)
	}
	cancel() // what SIGINT/SIGTERM do through main's NotifyContext
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after shutdown:\n%s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not shut down")
	}
	// gin's debug mode would print its routes; release mode prints none.
	if strings.Contains(logs.String(), "[GIN-debug]") {
		t.Errorf("gin debug output:\n%s", logs.String())
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--addr", "256.0.0.1:99999"},
		{"serve", "extra-arg"},
		{"serve", "--max-body-bytes", "-1"},
		{"serve", "--traffic-keep", "0"},
		{"serve", "--traffic-keep", "99"},
		{"serve", "--traffic-keep", "1000001"},
		{"serve", "--bogus"},
	} {
		if r := runCLI(t, "", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitUsage, r.err)
		}
	}
}
