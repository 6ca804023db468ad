// Package redisserverplane is a devapi.Plane in which every database is one
// real redis-server process (Debian package redis-server).
//
// Each database has a folder of its own under Config.Dir, created 0700:
//
//	redis.conf    the whole configuration, password included (0600)
//	admin.secret  the password of devapi's own ACL user (0600)
//	generation    the generation of the password now applied
//	redis.pid     the pidfile redis-server writes
//	redis.log     its log (it never contains a password)
//	tls.crt/key   the certificate TLS databases serve (0600)
//	appendonlydir the append-only file
//
// Passwords never appear on a command line, which /proc/PID/cmdline shows to
// every user: redis-server is started as `redis-server <folder>/redis.conf`.
//
// Two ACL users: `default`, the database's user, with the database password
// and every command but those that would let it change its password or the
// server behind devapi's back (ACL, CONFIG, SHUTDOWN, DEBUG, MODULE,
// replication); and `devapi-admin`, with a random secret kept in the folder,
// which devapi uses to change passwords and read INFO.
//
// Durability: append-only persistence with appendfsync everysec, so keys
// survive a devapi restart, and a crash of a redis-server process loses at
// most about one second of writes. The password survives too: it is in the
// store, and devapi rewrites redis.conf whenever it changes.
//
// Backups (Snapshot, Restore) read and write keys with typed commands as
// devapi-admin, not DUMP/RESTORE, so a snapshot restores on any plane.
//
// Processes run in their own process group, so a Ctrl-C meant for devapi
// does not kill them before devapi shuts them down (SHUTDOWN, which flushes
// the AOF). When devapi is killed instead, they keep running; the next Open
// and Serve find them through their pidfiles and adopt them, or kill and
// restart them if they do not answer as expected, so no stray process is
// left holding a port.
package redisserverplane
