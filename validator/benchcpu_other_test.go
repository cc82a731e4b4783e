//go:build !unix

package validator_test

import "time"

// processCPU is not measured here; the cpu-s metrics are left out.
func processCPU() time.Duration { return 0 }
