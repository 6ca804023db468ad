// Package upstash is a small Go client for the Upstash Developer API
// (https://api.upstash.com/v2): Redis databases, their backups, and teams.
// It works the same against Upstash and against devapi (`devapi serve`, or
// an in-process server from package devapitest).
//
//	c, err := upstash.New(os.Getenv("UPSTASH_EMAIL"), os.Getenv("UPSTASH_API_KEY"))
//	// or, against devapi: upstash.New(email, key, upstash.WithBaseURL("http://127.0.0.1:8080"))
//	db, err := c.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "orders", PrimaryRegion: "us-east-1"})
//
// Every method takes a context first and performs one API operation; it is a
// thin layer over the generated client of package gen, so the wire format is
// the one openapi.yaml describes. The types Database, Backup, Team,
// TeamMember and Stats marshal to JSON with the API's own field names.
//
// # Errors
//
// An answer other than 200 is an *APIError, wrapped with the operation's
// name. Match it with errors.Is against ErrNotFound, ErrUnauthorized,
// ErrBadRequest, ErrAlreadyEnabled, ErrAlreadyDisabled, ErrRateLimited and
// ErrServer, or get its status and message with errors.As. Network failures
// are returned wrapped as they come from net/http, never as an *APIError.
//
// # Retries
//
// Only reads (the GET operations: ListDatabases, GetDatabase, Stats,
// ListBackups, ListTeams, TeamMembers) are retried, on 429, 502, 503 and
// 504 answers and on network errors, with exponential backoff and jitter,
// honouring Retry-After (capped at 30 seconds), and never past the end of
// the context. See WithRetries. Every other call is sent exactly once,
// because repeating it could apply a change twice.
//
// # ResetPassword is not idempotent
//
// Each ResetPassword call makes new credentials, so it is never retried. If
// a call fails after the request was sent (a timeout, a dropped
// connection), the server may have committed the reset anyway: the old
// password may already be refused. Do not call ResetPassword again to find
// out; call GetDatabase and use the password and REST tokens it answers.
// They are the stored ones, which are those of the reset that committed
// last, and the ones the database accepts.
package upstash
