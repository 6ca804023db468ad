// Package storetest is the conformance suite for devapi.Store: every
// implementation runs Run from its tests, so all of them keep the same
// contract, error codes included.
//
// The suite controls time instead of reading the clock: it stamps accounts,
// keys and databases with fixed whole-second times, the coarsest precision a
// store may keep, and compares times with time.Equal.
package storetest
