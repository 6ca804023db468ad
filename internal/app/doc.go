// Package app assembles devapi: the store, the CA kept in it, a data plane,
// the management API, the REST data API, the HTTPS proxy and the background
// jobs that keep them in step. It is the one place that wires them: devapi
// serve, devapitest, the load harness's child and the test stacks all call
// Open, Start and Close, and differ only in their Config.
//
// The order is the contract. Open binds every listener before it writes
// anything, so a start that fails on a port in use or a bad address leaves
// no store behind; it writes the CA's certificate and runs Setup (the
// accounts) only once the plane is ready, so a plane that cannot start
// leaves no credentials. Close stops the listeners, then the background
// jobs, waits for every goroutine it started, and only then closes the REST
// API, the plane and the store.
package app
