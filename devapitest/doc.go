// Package devapitest starts a real devapi in-process, for tests: the Upstash
// Developer API and the REST data API on loopback, a SQLite store in a
// temporary folder, and databases that are real Redis servers (miniredis)
// speaking TLS with a certificate of a CA made for the server.
//
//	func TestRotate(t *testing.T) {
//		s := devapitest.NewServer(t)
//		db, err := s.Client.CreateDatabase(t.Context(), upstash.CreateDatabaseRequest{Name: "cache", PrimaryRegion: "us-east-1"})
//		...
//		rdb := redis.NewClient(&redis.Options{
//			Addr:      net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port)),
//			Password:  db.Password,
//			TLSConfig: &tls.Config{RootCAs: s.CAPool, ServerName: db.Endpoint},
//		})
//		...
//	}
//
// Every Server has an account of its own and its own store, so tests may run
// in parallel. Databases get ports from 31000-31999: each Server claims a
// block of 50 of them (a lock file in the system's temporary folder keeps
// concurrent Servers, also of other test binaries, off each other's ports),
// so one Server holds at most 50 databases at a time.
package devapitest
