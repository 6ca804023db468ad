-- 0009: a REST token carries its database's id (devapi.RestTokenDatabaseID),
-- so a token is found by the primary key and compared in the store's code.
-- The two token indexes of 0003 go: no reset maintains them any more, and on
-- PostgreSQL a reset changes no indexed column, an in-place (HOT) update.

DROP INDEX IF EXISTS databases_rest_token;
DROP INDEX IF EXISTS databases_read_only_rest_token;
