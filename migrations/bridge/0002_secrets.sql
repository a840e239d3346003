-- 0002: secrets a bridge keeps across restarts, by name: the key that signs the public URLs of
-- relayed users' avatars, so that the URLs Slack stored in old messages keep working.
CREATE TABLE bridge_secrets (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
