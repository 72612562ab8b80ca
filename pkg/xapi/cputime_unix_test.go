//go:build unix

package xapi

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used. Run
// next to other loads, a benchmark's wall time per op includes waiting for
// a core; CPU time per op does not.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
