-- 0004: teams and their members. A team is also an account (email = team id),
-- which owns the databases moved to the team.

CREATE TABLE teams (
    id         TEXT PRIMARY KEY REFERENCES accounts (email) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    copy_cc    INTEGER NOT NULL CHECK (copy_cc IN (0, 1)),
    created_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email   TEXT NOT NULL REFERENCES accounts (email) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (team_id, email)
);

CREATE INDEX team_members_email ON team_members (email);
