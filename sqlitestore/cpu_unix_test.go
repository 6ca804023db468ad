//go:build unix

package sqlitestore

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used so
// far, for benchmarks that report CPU per operation: with group commit the
// wall-clock time per operation says little, as most of it is waiting for an
// fsync that many operations share.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
