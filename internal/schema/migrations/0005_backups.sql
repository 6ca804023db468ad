-- 0005: backups of databases, and the daily-backup setting.

ALTER TABLE databases ADD COLUMN daily_backup INTEGER NOT NULL DEFAULT 0 CHECK (daily_backup IN (0, 1));

CREATE TABLE backups (
    id          TEXT PRIMARY KEY,
    database_id TEXT NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    daily       INTEGER NOT NULL CHECK (daily IN (0, 1)),
    created_at  BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    data        TEXT NOT NULL -- the snapshot as the server encoded it, in base64 (TEXT runs on every engine)
);

CREATE INDEX backups_database_created_at ON backups (database_id, created_at, id);
