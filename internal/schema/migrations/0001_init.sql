-- 0001: accounts, their API keys and their databases.
--
-- Written to run unchanged on SQLite and PostgreSQL: only TEXT, INTEGER and
-- BIGINT columns, standard constraints, no engine-specific clauses. Times are
-- microseconds since the Unix epoch (UTC); booleans are 0 or 1.

CREATE TABLE accounts (
    email      TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL REFERENCES accounts (email) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE INDEX api_keys_email_created_at ON api_keys (email, created_at, id);

CREATE TABLE databases (
    id                   TEXT PRIMARY KEY,
    owner                TEXT NOT NULL REFERENCES accounts (email),
    name                 TEXT NOT NULL,
    platform             TEXT NOT NULL,
    primary_region       TEXT NOT NULL,
    read_regions         TEXT NOT NULL, -- JSON array of region names
    plan                 TEXT NOT NULL,
    budget               BIGINT NOT NULL,
    tls                  INTEGER NOT NULL CHECK (tls IN (0, 1)),
    eviction             INTEGER NOT NULL CHECK (eviction IN (0, 1)),
    auto_upgrade         INTEGER NOT NULL CHECK (auto_upgrade IN (0, 1)),
    prod_pack            INTEGER NOT NULL CHECK (prod_pack IN (0, 1)),
    state                TEXT NOT NULL,
    endpoint             TEXT NOT NULL,
    port                 INTEGER NOT NULL,
    created_at           BIGINT NOT NULL,
    password             TEXT NOT NULL,
    rest_token           TEXT NOT NULL,
    read_only_rest_token TEXT NOT NULL,
    generation           BIGINT NOT NULL
);

CREATE INDEX databases_owner_created_at ON databases (owner, created_at, id);
