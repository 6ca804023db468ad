-- 0002: server-wide settings, such as the CA that signs database certificates.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
