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
//   - bodies over 10 MB are refused (413)
//   - Upstash-Response-Format: resp2 answers a command or a /pipeline with
//     the raw RESP2 replies, as application/octet-stream (resp2out.go)
//   - /subscribe/<channel>..., /psubscribe/<pattern>... and /monitor with
//     Accept: text/event-stream are event streams, kept open (sse.go)
//
// Requests are bounded at the door (Limits): the body's size on the wire,
// the commands of one pipeline or transaction, the size of the answer, and
// the bytes and requests in flight per database and overall (429 with
// Retry-After, at once, never queued). A request costs a small multiple of
// its size: its body is parsed a token at a time into flat storage, its
// commands go to the database in batches, and each reply is written into
// the JSON answer as it is read (resp.go), never held as a tree of values.
// One log line per request, never one per command.
//
// What a database's users may run is devapi.CommandPolicy, checked before a
// command is sent (Redis's NOPERM); on top of it the REST API refuses what
// needs a connection of its own (commands.go).
//
// Tokens are looked up in the store on every request, so a token replaced by
// reset-password, or a deleted database's, stops working the moment the
// management API answers: the tokens that work are the stored ones.
package restapi
