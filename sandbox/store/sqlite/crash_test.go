package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
)

// TestCrashLosesNothingAcknowledged: a child process writes resources and
// prints each id once Update has returned; the test kills it with SIGKILL
// mid-stream, reopens the database and finds every printed id.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if dir := os.Getenv("SANDKASSE_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "SANDKASSE_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []int
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue
		}
		acked = append(acked, n)
		if len(acked) >= 200 || time.Now().After(deadline) {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing")
	}
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range acked {
		if _, err := s.Read(context.Background(), "t", "Patient", fmt.Sprint(n)); err != nil {
			t.Fatalf("acknowledged write %d lost after the crash: %v", n, err)
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

func crashChild(dir string) {
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		os.Exit(3)
	}
	body := []byte(`{"resourceType":"Patient"}`)
	for i := 1; ; i++ {
		err := s.Update(context.Background(), "t", func(tx store.Tx) error {
			return tx.Put(context.Background(), store.Resource{Type: "Patient", ID: fmt.Sprint(i), Version: 1, Body: body},
				[]store.Index{{Param: "name", Value: "x"}}, 0)
		})
		if err != nil {
			os.Exit(4)
		}
		fmt.Println(i)
	}
}
