// Package restapi serves Upstash's REST data API for every devapi database,
// executing each command on the database's data plane. The token chooses the
// database, as Upstash's tokens name theirs, so one listener serves them all:
// UPSTASH_REDIS_REST_URL is the listener's URL for every database, and
// UPSTASH_REDIS_REST_TOKEN the database's rest_token (or its
// read_only_rest_token).
//
// The protocol, as Upstash documents it and @upstash/redis speaks it:
//
//   - POST / with a JSON array command: ["SET","k","v"] -> {"result":"OK"}
//   - path-style commands: /set/k/v; a POST body is the last argument; query
//     parameters are appended as NAME VALUE pairs (?EX=100)
//   - POST /pipeline and POST /multi-exec with an array of commands, answered
//     with one {"result"} or {"error"} per command; a transaction that
//     cannot run answers one {"error"}
//   - Authorization: Bearer TOKEN, or ?_token=TOKEN
//   - 401 {"error":"WRONGPASS invalid or missing auth token"}; 400
//     {"error":"..."} for a failing command; 405 for other methods
//   - Upstash-Encoding: base64 encodes every string of a result but the OK
//     status; numbers, nulls and errors are left as they are
//   - results in RESP2 shapes only: strings, integers, nulls and arrays
//   - a fresh upstash-sync-token header on every answer
//   - bodies over 10 MB are refused
//
// Tokens are looked up in the store on every request, so a token replaced by
// reset-password, or a deleted database's, stops working the moment the
// management API answers: the tokens that work are the stored ones.
package restapi
