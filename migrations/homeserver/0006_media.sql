-- 0006: the media repository (data/api/client-server/authed-content-repo.yaml, content-repo.yaml).
-- Bytes live in a content-addressed blob store (homeserver/media), one copy per unique content;
-- media_content records each blob and media records each mxc:// URI pointing at one. Reference
-- counts are derived by query (media.content_hash) rather than kept in a counter that could drift.
CREATE TABLE media_content (
	content_hash TEXT PRIMARY KEY, -- sha256 of the bytes, lower-case hex; the blob's name
	size BIGINT NOT NULL,
	created_ts BIGINT NOT NULL
);

CREATE TABLE media (
	server_name TEXT NOT NULL,
	media_id TEXT NOT NULL,
	-- '' while an asynchronous upload (POST /_matrix/media/v1/create) awaits its content
	content_hash TEXT NOT NULL,
	size BIGINT NOT NULL,
	content_type TEXT NOT NULL,
	upload_name TEXT NOT NULL,
	uploader TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	last_access_ts BIGINT NOT NULL,
	quarantined BOOLEAN NOT NULL,
	-- for a pending media ID, when it expires unused (unused_expires_at); 0 once uploaded
	pending_expires_ts BIGINT NOT NULL,
	-- whether the legacy unauthenticated /_matrix/media/v3/download serves it: media uploaded
	-- before the server froze those endpoints stays visible (content-repo.yaml, "freeze")
	legacy_visible BOOLEAN NOT NULL,
	PRIMARY KEY (server_name, media_id)
);
CREATE INDEX media_uploader ON media (uploader);
CREATE INDEX media_content_hash ON media (content_hash);
CREATE INDEX media_last_access ON media (last_access_ts);

-- Which events reference which media, so that an admin can quarantine a room's media and
-- retention can find unreferenced files. Filled from events later; the table exists now so that
-- the media code and its admin functions already have one shape to use.
CREATE TABLE media_references (
	server_name TEXT NOT NULL,
	media_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (server_name, media_id, event_id)
);
CREATE INDEX media_references_room ON media_references (room_id);
