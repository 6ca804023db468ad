// Package poolplane is a devapi.Plane, and a devapi.Placer, that serves each
// database on a Redis server of its own out of a pool of servers that
// already run: devapi starts no process. Several devapi replicas on one
// store (pgstore) share the pool: which database holds which server, and
// the generation of the password each server has, live in the store
// (devapi.PoolStore), not in the plane.
//
// The operator lists the servers, one redis:// or rediss:// URL a line (see
// ParseServers), each with the credentials of an ACL user that may run ACL,
// CONFIG, CLIENT, INFO, FLUSHALL, FUNCTION, SCRIPT, SLOWLOG, LATENCY and the
// reads and writes of a backup (`+@all` does): the admin user. Servers run
// Redis 7.0 or newer: Open fails on an older one that answers. devapi manages the user `default`, which the database's
// clients authenticate as; the admin user must be another. Configure the
// servers with `user default off`, so that a server no database holds
// refuses every client.
//
// Place gives a new database the first server of the list that no database
// holds, of the kind (rediss:// or redis://) the create asked for if one is
// free, else of the other: clients dial that server's host and port, with
// TLS if its URL is rediss://. The server is handed out as it is: Remove empties a server
// before it frees it, so a server added to the list should be empty.
//
// Serve and SetPassword apply the password with
//
//	ACL SETUSER default reset on >PASSWORD ~* &* +@all -@dangerous ...
//
// (devapi's command policy, devapi.ACLRules for the Redis 7.x that INFO
// server reports, as on redisserverplane) through
// PoolStore.ApplyPoolGeneration, which runs the change under the store's
// row lock of the database and only for a generation no older than the one
// recorded: of concurrent resets through any replicas, the newest wins, and
// serving a database again re-applies its password to a server that lost it
// (a restart without an aclfile). A
// new password holds for new connections; connections already
// authenticated stay so. Serve also sets maxmemory and maxmemory-policy
// (allkeys-lru with eviction, noeviction without), and maxclients: the
// database's MaxClients (default 10000) plus the connections of other users
// open then. Each replica's admin client holds its 4 connections per server
// open (Serve opens those it lacks; none is dropped for idling), so the
// database's clients get their limit and cannot take the connections a
// password change needs. Configure servers with `timeout 0` (the default),
// which never drops idle connections.
//
// Remove hands the server on clean (wipe): it turns `default` off,
// disconnects every client of it (CLIENT KILL USER default: subscribers,
// named connections), deletes the keys of every logical database
// (FLUSHALL ASYNC), the functions (FUNCTION FLUSH) and the script cache
// (SCRIPT FLUSH), resets the slowlog (commands with their arguments), the
// latency history, the ACL log and INFO's statistics (CONFIG RESETSTAT),
// and checks that none of it is left (INFO keyspace and memory, FUNCTION
// LIST, SLOWLOG GET, CLIENT LIST); only then does it free the server for
// another database. It records the largest generation first, so a password
// change racing with it cannot turn `default` on again. Place wipes a
// server the same way when it hands it out anew (a database no Serve has
// used yet), in case it was used since; Place fails, freeing the place,
// when it cannot.
//
// A script of the database's that runs past busy-reply-threshold makes the
// server answer BUSY to everything else: password changes and Remove then
// kill it (SCRIPT KILL, FUNCTION KILL) and go through. A script that has
// written cannot be killed but by SHUTDOWN NOSAVE, which devapi does not
// send: they fail meanwhile.
//
// A server configured with an ACL file (the aclfile directive) keeps the
// password across its restarts: every change is followed by ACL SAVE.
// Without one, the password lives in the server's memory only: a server
// that restarts comes back with the `default` of its configuration file
// (off, if configured as above) until a replica serves the database again:
// devapi serve does so at start and every --reconcile-every.
// Keys survive a restart only as the server's own persistence keeps them.
// Status reports a server that does not answer as stopped.
package poolplane
