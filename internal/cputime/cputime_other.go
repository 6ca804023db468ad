//go:build !unix

// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per operation.
package cputime

import "time"

// Process is not measured here: ok is false, and benchmarks leave out their
// CPU metric.
func Process() (d time.Duration, ok bool) { return 0, false }
