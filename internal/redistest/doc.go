// Package redistest is the test kit for redis-server, as pgstore/pgtest is
// for PostgreSQL: the one place that knows whether redis-server is there
// (a test that needs it skips locally with a line saying how to install it,
// and fails instead under CI=true, where it must run), how to start one
// (plain, TLS, with an admin user as a pool server has), and which ports a
// test may use.
package redistest
