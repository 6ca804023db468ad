// Package respsnapshot takes and restores a devapi.Snapshot of a real Redis
// server through go-redis, with typed commands (GET, LRANGE, SMEMBERS,
// ZRANGE, HGETALL, XRANGE and their writing counterparts) rather than
// DUMP/RESTORE, so a snapshot taken on one plane restores on any other.
// Planes that talk to a Redis server as an admin user share it.
package respsnapshot
