// Package respsnapshot streams the keys of a real Redis server, as
// devapi.SnapshotKey values, out of it and back into it through go-redis,
// with typed commands (GET, LRANGE, SMEMBERS, ZRANGE, HGETALL, XRANGE and
// their writing counterparts) rather than DUMP/RESTORE, so a snapshot taken
// on one plane restores on any other. It holds a bounded batch of keys at a
// time, and takes a connection of the client's pool per round trip only.
// Planes that talk to a Redis server as an admin user share it.
package respsnapshot
