//go:build !unix

package rules

import "time"

// processCPU is not measured here; the cpu metrics are left out.
func processCPU() time.Duration { return 0 }
