-- 0014: login tokens (data/api/client-server/login_token.yaml): single-use, short-lived tokens
-- a logged-in client makes for another device to log in with (m.login.token). Stored hashed.
CREATE TABLE login_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	expires_ts BIGINT NOT NULL
);
CREATE INDEX login_tokens_expiry ON login_tokens (expires_ts);
