//go:build race

package devapi_test

// raceEnabled tells tests that count allocations that the race detector,
// which allocates for itself, is on.
const raceEnabled = true
