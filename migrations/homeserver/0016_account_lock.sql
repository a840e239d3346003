-- 0016: account locking and suspension (content/client-server-api/_index.md, "Account moderation"):
-- two reversible flags that a server admin sets through PUT /_matrix/client/v1/admin/lock/{userId}
-- and /admin/suspend/{userId}. They sit on users because the access-token query joins users on
-- every request already, so enforcing them costs no extra query. SQLite adds one column per
-- ALTER TABLE, hence two statements.
ALTER TABLE users ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT FALSE;
