// Package placement chooses where a new database listens on the planes that
// serve databases on ports of devapi's range (embedded, redis-server): the
// lowest port of the range that no stored database and no create under way
// holds and that nothing on this machine listens on. A plane that places
// databases itself (a devapi.Placer, a pool) does without it.
//
// It is the data plane's concern, not HTTP's: the management API asks it
// for a port when it creates a database and tells it when the port is
// stored or free again.
package placement
