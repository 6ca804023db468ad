// Package devapi holds the domain of devapi, a local implementation of the
// Upstash Developer API: databases, accounts, the Store they live in and the
// error codes every layer speaks. It imports the standard library only;
// server/, the stores and cmd/devapi build on it.
package devapi
