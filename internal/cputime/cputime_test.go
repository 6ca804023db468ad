package cputime

import (
	"runtime"
	"testing"
)

// TestProcessGrows: CPU spent shows in Process on unix systems.
func TestProcessGrows(t *testing.T) {
	before, ok := Process()
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatal("Process cannot read the CPU time on linux")
		}
		t.Skip("no CPU time on " + runtime.GOOS)
	}
	for after := before; after <= before; after, _ = Process() {
		for i := range 1_000_000 {
			_ = i * i
		}
	}
}
