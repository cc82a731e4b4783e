package benchcpu

import (
	"crypto/sha256"
	"runtime"
	"testing"
	"time"
)

// Process must grow with work the process does: a benchmark's CPU metric
// is the difference of two readings.
func TestProcessGrowsWithWork(t *testing.T) {
	start := Process()
	if start == 0 {
		if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
			t.Skip("no process CPU time on " + runtime.GOOS)
		}
		t.Fatal("Process() = 0 on a unix system: getrusage failed")
	}
	sum := sha256.Sum256(nil)
	for deadline := time.Now().Add(5 * time.Second); Process()-start < 20*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("Process() grew by %v over 5s of hashing, want at least 20ms", Process()-start)
		}
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
	}
}
