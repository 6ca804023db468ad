//go:build race

package server

// raceEnabled tells tests that count allocations that the race detector,
// which drops sync.Pool items at random and allocates for itself, is on.
const raceEnabled = true
