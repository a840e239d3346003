-- 0001: the homeserver's core: accounts, devices, tokens, rooms, events, room state and sync positions.
-- Times are BIGINT milliseconds since the epoch, as Matrix uses. Event JSON is kept exactly as
-- signed, as bytes. Every table that grows with use carries a timestamp so it can be purged by age.

-- Counters hand out stream positions and internal IDs. Incrementing a counter row locks it until
-- the transaction commits, so positions become visible in the order they were handed out: a
-- /sync reader that has seen position N never later finds a new event below N.
CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('events', 0), ('state_snapshots', 0);

CREATE TABLE users (
	user_id TEXT PRIMARY KEY,
	password_hash TEXT,
	is_admin BOOLEAN NOT NULL DEFAULT FALSE,
	is_guest BOOLEAN NOT NULL DEFAULT FALSE,
	deactivated BOOLEAN NOT NULL DEFAULT FALSE,
	appservice_id TEXT,
	displayname TEXT,
	avatar_url TEXT,
	created_ts BIGINT NOT NULL
);

CREATE TABLE devices (
	user_id TEXT NOT NULL REFERENCES users (user_id),
	device_id TEXT NOT NULL,
	display_name TEXT,
	created_ts BIGINT NOT NULL,
	last_seen_ts BIGINT NOT NULL,
	last_seen_ip TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored as SHA-256 hashes: a leaked database does not leak usable tokens.
CREATE TABLE access_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	refresh_token_hash TEXT,
	created_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL DEFAULT 0,
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);
-- A retried refresh revokes the unused pair issued by the first attempt.
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_token_hash);

-- A refresh token stays usable until the pair issued in exchange for it is first used
-- (data/api/client-server/refresh.yaml); next_token_hash links it to that pair.
CREATE TABLE refresh_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	next_token_hash TEXT,
	created_ts BIGINT NOT NULL,
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (user_id, device_id);
-- Every refresh, and the first use of each refreshed access token, revokes the token it replaced.
CREATE INDEX refresh_tokens_next ON refresh_tokens (next_token_hash);

CREATE TABLE registration_tokens (
	token TEXT PRIMARY KEY,
	uses_allowed BIGINT,
	pending BIGINT NOT NULL DEFAULT 0,
	completed BIGINT NOT NULL DEFAULT 0,
	expiry_ts BIGINT,
	created_ts BIGINT NOT NULL
);

-- User-interactive authentication sessions: which stages are done, and for which request.
CREATE TABLE uia_sessions (
	session_id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL DEFAULT '',
	request_hash TEXT NOT NULL,
	completed TEXT NOT NULL DEFAULT '[]',
	registration_token TEXT,
	created_ts BIGINT NOT NULL
);

CREATE TABLE filters (
	user_id TEXT NOT NULL,
	filter_id BIGINT NOT NULL,
	filter_json TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, filter_id)
);

CREATE TABLE rooms (
	room_id TEXT PRIMARY KEY,
	room_version TEXT NOT NULL,
	creator TEXT NOT NULL,
	is_public BOOLEAN NOT NULL DEFAULT FALSE,
	-- the state snapshot after the newest state event (the room's current state)
	state_snapshot BIGINT NOT NULL DEFAULT 0,
	created_ts BIGINT NOT NULL
);

CREATE TABLE room_aliases (
	alias TEXT PRIMARY KEY,
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	creator TEXT NOT NULL,
	created_ts BIGINT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- Every PDU of every room. stream_pos orders events globally for /sync; (depth, stream_pos)
-- orders a room topologically for /messages. state_before names the state snapshot of the room
-- just before the event, which lets state resolution and history visibility see the state at
-- any event. Purging old history deletes message rows; state events and snapshots stay.
CREATE TABLE events (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	stream_pos BIGINT NOT NULL UNIQUE,
	depth BIGINT NOT NULL,
	type TEXT NOT NULL,
	state_key TEXT,
	sender TEXT NOT NULL,
	membership TEXT,
	origin_server_ts BIGINT NOT NULL,
	state_before BIGINT NOT NULL,
	-- the state event this one replaced, for unsigned.prev_content
	replaces_state TEXT,
	-- the sending device and its transaction ID, for unsigned.transaction_id in its own echo
	txn_device TEXT,
	txn_id TEXT,
	redacted_by TEXT,
	pdu BYTEA NOT NULL
);
CREATE INDEX events_room_stream ON events (room_id, stream_pos);
CREATE INDEX events_room_topo ON events (room_id, depth, stream_pos);
CREATE INDEX events_membership ON events (state_key, stream_pos) WHERE type = 'm.room.member';

-- The events of a room that no other event references yet: the next event's prev_events.
CREATE TABLE forward_extremities (
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, event_id)
);

-- The current state of each room, one row per (type, state_key), for fast reads.
CREATE TABLE current_state (
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_id TEXT NOT NULL,
	membership TEXT,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_member ON current_state (state_key, membership) WHERE type = 'm.room.member';

-- State snapshots are stored as skip deltas (the FSFS trick): snapshot number seq along its
-- parent chain stores only its difference from the ancestor at seq with the lowest set bit
-- cleared. Reading any snapshot touches at most log2(seq)+1 deltas, and a room with n state
-- changes stores O(n log n) entries in total; message events add nothing. Synapse's full copies
-- every 100 deltas grow quadratically with room size instead. Snapshot 0 is the empty state.
CREATE TABLE state_snapshots (
	snapshot_id BIGINT PRIMARY KEY,
	room_id TEXT NOT NULL,
	parent_id BIGINT NOT NULL,
	base_id BIGINT NOT NULL,
	seq BIGINT NOT NULL,
	created_ts BIGINT NOT NULL
);
CREATE INDEX state_snapshots_room ON state_snapshots (room_id);

-- The entries of one snapshot's delta against its base. event_id NULL removes the key.
CREATE TABLE state_snapshot_entries (
	snapshot_id BIGINT NOT NULL REFERENCES state_snapshots (snapshot_id),
	type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_id TEXT,
	PRIMARY KEY (snapshot_id, type, state_key)
);

-- Transaction IDs of client sends, per device, for idempotent retries.
CREATE TABLE transaction_ids (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, txn_id)
);

CREATE TABLE forgotten_rooms (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id)
);
