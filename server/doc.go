// Package server serves the Upstash Developer API over HTTP: it implements
// genserver.StrictServerInterface on top of a devapi.Store, authenticates callers
// with HTTP Basic, validates every request against openapi.yaml with
// kin-openapi, and answers every error as JSON in the spec's Error shape.
package server
