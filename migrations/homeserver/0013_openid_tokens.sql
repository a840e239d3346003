-- 0013: OpenID tokens (data/api/client-server/openid.yaml): short-lived tokens a user hands to a
-- third party (an integration manager, a widget), which checks them with this server's
-- federation API to learn who the user is. Stored hashed, as access tokens are.
CREATE TABLE openid_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	expires_ts BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);
