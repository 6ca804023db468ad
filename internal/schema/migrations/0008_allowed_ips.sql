-- 0008: a database's IP allowlist (update-allowlist), a JSON array of CIDRs
-- as read_regions is one of names; empty means every address may connect.

ALTER TABLE databases ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
