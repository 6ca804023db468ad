// Package redisserverplane is a devapi.Plane in which every database is one
// real redis-server process (Debian package redis-server, Redis 7). Open
// fails, naming the binary, when it is not installed or older than Redis
// 7.0 (it asks `redis-server --version`).
//
// Each database has a folder of its own under Config.Dir, created 0700:
//
//	redis.conf    the whole configuration, password included (0600)
//	admin.secret  the password of devapi's own ACL user (0600)
//	generation    the generation of the password now applied
//	redis.pid     the pidfile redis-server writes
//	redis.log     its log and its stdout and stderr (no password in it)
//	tls.crt/key   the certificate TLS databases serve (0600)
//	appendonlydir the append-only file
//
// Passwords never appear on a command line, which /proc/PID/cmdline shows to
// every user: redis-server is started as `redis-server <folder>/redis.conf`.
// In redis.conf every path and password is a double-quoted argument with
// anything but plain printable ASCII escaped as \xHH, so a password with
// spaces or quotes cannot change the configuration. A database listens on
// Host (default 127.0.0.1): `port N`, or for TLS `port 0` and `tls-port N`
// with devapi's certificate and no client certificates. protected-mode is
// off because every connection must authenticate.
//
// Two ACL users: `default`, the database's user, with the database password
// and devapi's command policy (devapi.CommandPolicy as ACL rules,
// devapi.ACLRules for the binary's Redis 7.x: `+@all -@dangerous`, the
// refused commands denied and the re-allowed ones allowed by name), in
// redis.conf and on every password change (ACL SETUSER default reset on
// >PASSWORD ~* &* RULES...), so a process an older devapi started gets
// today's rules with its next password; and `devapi-admin`, with a random
// secret kept in the folder and reused on every start, which devapi uses
// to change passwords, read INFO, take and restore backups and shut the
// process down. A new password holds for new connections; connections
// already authenticated stay so. Every change also rewrites redis.conf, so
// a restarted process keeps the password.
//
// maxclients is the database's MaxClients (default 10000) plus one: the
// admin client's single connection, which it opens at start, before the
// probe that waited for the process lets go of its own, and never drops
// for idling. redis-server counts every connection against maxclients, so
// the database's clients get exactly MaxClients and cannot take the one a
// password change needs. A lost admin connection (a timeout) frees its
// slot; a client of the database at its limit may take it, and devapi's
// calls then fail until one of them disconnects.
//
// A script of the database's that runs past busy-reply-threshold (5 s)
// makes the server answer BUSY to everything else: devapi's password
// changes and stops then kill it (SCRIPT KILL, FUNCTION KILL) and go
// through. A script that has written cannot be killed but by SHUTDOWN
// NOSAVE, which loses data: a password change fails meanwhile, and a stop
// falls back to SIGTERM, then SIGKILL.
//
// Durability: append-only persistence with appendfsync everysec, no RDB
// snapshots. Redis writes each command to the AOF file before it replies,
// and fsyncs the file every second: a crash of the redis-server process
// loses at most about one second of writes (in practice none that were
// acknowledged, since the kernel holds them), and a crash of the machine
// loses about the last second (two when the disk stalls). What survives a
// devapi restart: the keys, in the AOF, and the password, which the store
// holds and Serve applies again.
//
// Processes run in their own process group, so a Ctrl-C meant for devapi
// does not kill them before devapi shuts them down: Close sends SHUTDOWN,
// which flushes the AOF, and waits for every process to exit (then SIGTERM,
// then SIGKILL). When devapi is killed instead, they keep running; the next
// Serve finds one through its pidfile and adopts it when the pid is a live
// redis-server whose working directory is the database's folder (Redis
// rewrites its process title, so /proc/PID/cmdline cannot tell) and it
// answers devapi-admin on the database's port; TLS databases then reload
// the certificate of the new devapi with CONFIG SET, without a restart. A
// process of ours that does not answer is stopped and a new one started; a
// pidfile that names a dead or foreign process is ignored. Serve restarts a
// process whose port or TLS setting changed.
//
// A supervisor goroutine, which Close stops and waits for, starts a
// process that died (kill -9, the OOM killer, a crash) again: with the
// password of the generation the plane holds (redis.conf) and its
// append-only file. Our own children are seen to exit at once, adopted
// processes within a second (they are polled through /proc). The first
// restart comes 100 ms after the death; while processes keep dying the
// delay doubles, up to 30 s, and starts over once one has run for a
// minute. Each death, restart and failed restart is logged at WARN with
// the database id. Meanwhile Status reports devapi.PlaneRestarting, and a
// SetPassword starts the process at once, on the new password.
//
// Retire (devapi.Retirer) stops a database's process and moves its folder
// to OrphansDir (default <Dir>/../orphans) as <id>-<UTC time>, instead of
// deleting it: what reconciliation does with a database the store does not
// have.
//
// The processes get an environment of their own, a PATH only: nothing of
// devapi's (its API key, its store URL) reaches them.
//
// Backups (Snapshot, Restore) read and write keys with typed commands as
// devapi-admin (package respsnapshot), not DUMP/RESTORE, so a snapshot
// restores on any plane.
package redisserverplane
