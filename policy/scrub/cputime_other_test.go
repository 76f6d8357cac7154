//go:build !linux

package scrub

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
