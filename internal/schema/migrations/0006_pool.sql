-- 0006: the Redis servers of the pool plane, and which database holds which.
--
-- One row per database that holds a pool server. No foreign key to
-- databases: the plane places a database before the server stores it, and a
-- database that could not be stored frees its place again. server is
-- "host:port", never a URL with credentials. generation is that of the
-- password last applied to the server, -1 until one is.

CREATE TABLE pool_assignments (
    database_id TEXT PRIMARY KEY,
    server      TEXT NOT NULL UNIQUE,
    generation  BIGINT NOT NULL
);
