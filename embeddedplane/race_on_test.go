//go:build race

package embeddedplane_test

// raceDetector is true when the tests run with -race, which slows Lua down
// enough that a time limit can fire before a memory limit.
const raceDetector = true
