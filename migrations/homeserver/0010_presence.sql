-- 0010: presence (content/client-server-api/modules/presence.md): what the server publishes of
-- each local user's presence, one row per user, with a stream position from the 'presence'
-- counter so /sync can send what changed since a token. The activity behind it (syncs in
-- flight, the last message sent) is tracked in memory and folded in here when the published
-- presence changes (homeserver/syncapi/presence.go).
CREATE TABLE presence (
	user_id TEXT PRIMARY KEY,
	state TEXT NOT NULL, -- online, unavailable or offline
	status_msg TEXT NOT NULL, -- '' for none
	last_active_ts BIGINT NOT NULL, -- Unix ms of the user's last pro-active action; 0 for never
	currently_active BOOLEAN NOT NULL,
	stream_pos BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL
);
CREATE INDEX presence_stream ON presence (stream_pos);

INSERT INTO counters (name, value) VALUES ('presence', 0);
