//go:build !race

package devapi_test

const raceEnabled = false
