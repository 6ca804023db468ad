//go:build unix

// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per operation: with group commit the wall-clock time per
// operation says little, as most of it is waiting for an fsync that many
// operations share.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time (user and system) the process has used so
// far; ok is false where it cannot be read.
func Process() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
