// Package benchcpu gives benchmarks the CPU time the process has used, so
// they can report CPU per operation beside wall time. On a machine shared
// with other work, CPU time grows with the work done, where wall time also
// grows with the waiting. It imports nothing outside the standard library,
// so any package's benchmarks (the engine's included) can use it.
package benchcpu

import "time"

// Process is the CPU time (user + system, all threads, GC included) the
// process has used so far, or 0 where it cannot be measured (a platform
// without getrusage, or the call failed): callers leave the CPU metric out
// when the start or the difference is 0.
func Process() time.Duration { return process() }
