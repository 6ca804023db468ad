package devapi

import (
	"context"
	"crypto/tls"
)

// PlaneDatabase is what a data plane needs to serve one database.
type PlaneDatabase struct {
	ID       string
	Port     int  // TCP port to listen on
	TLS      bool // serve TLS with the plane's certificate instead of plain TCP
	Password string
	// Generation of Password (Credentials.Generation). A plane never lets a
	// password of an older generation replace a newer one.
	Generation int64
	// MaxMemory caps the memory of the database in bytes, where the plane
	// accounts memory; 0 means no cap.
	MaxMemory int64
	// Eviction evicts keys (allkeys-lru) when MaxMemory is reached, where
	// the plane can; otherwise writes fail when it is reached.
	Eviction bool
}

// PlaneStatus is what a data plane reports about one database.
type PlaneStatus struct {
	State            string // PlaneRunning or PlaneStopped
	Generation       int64  // generation of the password now accepted
	Addr             string // host:port the Redis listens on
	Keys             int64  // keys in all logical databases
	Connections      int64  // client connections open now
	TotalConnections int64  // client connections accepted since start
	Commands         int64  // commands processed since start
}

// States a PlaneStatus reports.
const (
	PlaneRunning = "running"
	PlaneStopped = "stopped"
)

// Plane serves databases as real Redis servers. Implementations are safe for
// concurrent use.
type Plane interface {
	// Serve makes the database's Redis run as d says: it starts one, adopts
	// one that is already running, or updates a running one (its listener,
	// memory cap and eviction). The password is
	// applied unless the plane holds a newer generation. Serve is what
	// start-up reconciliation calls for every stored database.
	Serve(ctx context.Context, d PlaneDatabase) error
	// SetPassword makes the database's Redis accept password, and refuse the
	// previous one, for new connections, unless the plane already holds a
	// generation newer than generation. Keys are untouched. ENOTFOUND if the
	// plane does not serve the database.
	SetPassword(ctx context.Context, id, password string, generation int64) error
	// Remove stops the database's Redis, deletes its data and frees its port.
	// Removing a database the plane does not serve is not an error.
	Remove(ctx context.Context, id string) error
	// Status reports on one database. ENOTFOUND if the plane does not serve it.
	Status(ctx context.Context, id string) (PlaneStatus, error)
	// Databases lists the ids of the databases the plane serves or holds
	// data for, so reconciliation can remove those the store no longer has.
	Databases(ctx context.Context) ([]string, error)
	// Close stops serving. Data a plane persists stays for the next start.
	Close() error
}

// PlaneConfig is what every plane implementation is built with.
type PlaneConfig struct {
	// Host is the address the Redis servers listen on. Default: 127.0.0.1.
	Host string
	// TLS is the server configuration for databases with TLS on. Required
	// when any database has TLS.
	TLS *tls.Config
}
