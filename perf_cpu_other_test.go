//go:build !unix

package chatflow

import "time"

// processCPU is not measured here: the figures give wall-clock time only.
func processCPU() time.Duration { return 0 }
