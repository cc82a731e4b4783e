//go:build unix

package rules

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system, all threads, GC included) the
// process has used. On a machine shared with other work it grows with the
// work done, where wall time also grows with the waiting.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
