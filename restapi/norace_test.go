//go:build !race

package restapi_test

// raceEnabled is true under the race detector, which multiplies memory.
const raceEnabled = false
