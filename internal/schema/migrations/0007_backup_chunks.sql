-- 0007: backup content in chunks, written as a backup is taken.
--
-- A backup's content is the rows of backup_chunks with its id, in seq
-- order, each the base64 of up to 1 MiB (TEXT runs on every engine), so
-- that neither devapi nor the database ever holds a backup whole. A backup
-- is written chunk by chunk in transactions of their own and listed only
-- once complete (complete = 1); an incomplete one is removed when its
-- writing fails, or, left by a crash, when a later backup of the database
-- is taken a day after it was started. backups.data is no longer written:
-- the content of the backups taken before this migration moves to one
-- chunk each, unchanged (the server reads both forms).

CREATE TABLE backup_chunks (
    backup_id TEXT NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (backup_id, seq)
);

ALTER TABLE backups ADD COLUMN complete INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1));

INSERT INTO backup_chunks (backup_id, seq, data) SELECT id, 0, data FROM backups;

UPDATE backups SET data = '';
