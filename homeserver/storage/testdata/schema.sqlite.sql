-- table access_tokens
CREATE TABLE access_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	refresh_token_hash TEXT,
	created_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL DEFAULT 0,
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table account_data
CREATE TABLE account_data (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL, -- '' for global account data
	type TEXT NOT NULL,
	content TEXT NOT NULL, -- a JSON object
	stream_pos BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id, type)
);

-- table appservice_grants
CREATE TABLE appservice_grants (
	user_id TEXT NOT NULL,
	appservice_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, appservice_id)
);

-- table appservice_streams
CREATE TABLE appservice_streams (
	appservice_id TEXT PRIMARY KEY,
	-- every event at or below this stream position has been delivered or was of no interest
	delivered_pos BIGINT NOT NULL,
	next_txn_id BIGINT NOT NULL DEFAULT 1,
	last_success_ts BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	last_error_ts BIGINT NOT NULL DEFAULT 0,
	created_ts BIGINT NOT NULL
, to_device_pos BIGINT NOT NULL DEFAULT 0, device_lists_pos BIGINT NOT NULL DEFAULT 0);

-- table appservice_txns
CREATE TABLE appservice_txns (
	appservice_id TEXT PRIMARY KEY REFERENCES appservice_streams (appservice_id),
	txn_id BIGINT NOT NULL,
	-- delivering this transaction moves the cursor here
	upto_pos BIGINT NOT NULL,
	body BYTEA NOT NULL,
	event_count BIGINT NOT NULL,
	created_ts BIGINT NOT NULL
, to_device_upto BIGINT NOT NULL DEFAULT 0, device_lists_upto BIGINT NOT NULL DEFAULT 0);

-- table bridge_ghosts
CREATE TABLE bridge_ghosts (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	name TEXT NOT NULL,
	avatar_source TEXT NOT NULL, -- the remote avatar's URL, to notice changes
	avatar_mxc TEXT NOT NULL,
	is_bot BOOLEAN NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, remote_id)
);

-- table bridge_logins
CREATE TABLE bridge_logins (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	user_id TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	token TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, user_id)
);

-- table bridge_matrix_activity
CREATE TABLE bridge_matrix_activity (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	week_ts BIGINT NOT NULL, -- Unix ms of the week's start (Monday 00:00 UTC)
	user_id TEXT NOT NULL,
	messages BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, week_ts, user_id)
);

-- table bridge_messages
CREATE TABLE bridge_messages (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	part INTEGER NOT NULL,
	sort_key BIGINT NOT NULL,
	thread_id TEXT NOT NULL, -- the remote ID of the thread's root, '' outside threads
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	sender TEXT NOT NULL, -- the Matrix user who sent the event
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id, remote_id, part)
);

-- table bridge_portals
CREATE TABLE bridge_portals (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	kind TEXT NOT NULL, -- channel, private, dm, group_dm
	name TEXT NOT NULL,
	topic TEXT NOT NULL,
	created_ts BIGINT NOT NULL, relay TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (network, workspace, channel_id)
);

-- table bridge_reactions
CREATE TABLE bridge_reactions (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	message_id TEXT NOT NULL,
	remote_user_id TEXT NOT NULL,
	emoji TEXT NOT NULL, -- the remote name, e.g. "thumbsup" or a custom emoji's
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id, message_id, remote_user_id, emoji)
);

-- table bridge_secrets
CREATE TABLE bridge_secrets (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- table bridge_spaces
CREATE TABLE bridge_spaces (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	room_id TEXT NOT NULL,
	PRIMARY KEY (network, workspace)
);

-- table counters
CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

-- table cross_signing_keys
CREATE TABLE cross_signing_keys (
	user_id TEXT NOT NULL REFERENCES users (user_id),
	key_type TEXT NOT NULL,
	public_key TEXT NOT NULL,
	key_json TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, key_type)
);

-- table current_state
CREATE TABLE current_state (
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_id TEXT NOT NULL,
	membership TEXT,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (room_id, type, state_key)
);

-- table dehydrated_devices
CREATE TABLE dehydrated_devices (
	user_id TEXT PRIMARY KEY,
	device_id TEXT NOT NULL,
	device_data TEXT NOT NULL, -- a JSON object with at least "algorithm"
	created_ts BIGINT NOT NULL,
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table device_keys
CREATE TABLE device_keys (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id),
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table device_list_changes
CREATE TABLE device_list_changes (
	stream_pos BIGINT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	ts BIGINT NOT NULL
);

-- table devices
CREATE TABLE devices (
	user_id TEXT NOT NULL REFERENCES users (user_id),
	device_id TEXT NOT NULL,
	display_name TEXT,
	created_ts BIGINT NOT NULL,
	last_seen_ts BIGINT NOT NULL,
	last_seen_ip TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user_id, device_id)
);

-- table event_relations
CREATE TABLE event_relations (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	relates_to TEXT NOT NULL,
	rel_type TEXT NOT NULL,
	type TEXT NOT NULL,
	sender TEXT NOT NULL,
	stream_pos BIGINT NOT NULL
);

-- table event_search
CREATE TABLE event_search (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL UNIQUE,
	type TEXT NOT NULL,
	sender TEXT NOT NULL,
	search_key TEXT NOT NULL
);

-- table event_search_text
CREATE VIRTUAL TABLE event_search_text USING fts5(
	text,
	content = '',
	contentless_delete = 1,
	tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"
);

-- table event_search_text_config
CREATE TABLE 'event_search_text_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table event_search_text_data
CREATE TABLE 'event_search_text_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table event_search_text_docsize
CREATE TABLE 'event_search_text_docsize'(id INTEGER PRIMARY KEY, sz BLOB, origin INTEGER);

-- table event_search_text_idx
CREATE TABLE 'event_search_text_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table events
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

-- table fallback_keys
CREATE TABLE fallback_keys (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	used BOOLEAN NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, algorithm),
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table filters
CREATE TABLE filters (
	user_id TEXT NOT NULL,
	filter_id BIGINT NOT NULL,
	filter_json TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, filter_id)
);

-- table forgotten_rooms
CREATE TABLE forgotten_rooms (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id)
);

-- table forward_extremities
CREATE TABLE forward_extremities (
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, event_id)
);

-- table key_backup_sessions
CREATE TABLE key_backup_sessions (
	user_id TEXT NOT NULL,
	version BIGINT NOT NULL,
	room_id TEXT NOT NULL,
	session_id TEXT NOT NULL,
	first_message_index BIGINT NOT NULL,
	forwarded_count BIGINT NOT NULL,
	is_verified BOOLEAN NOT NULL,
	session_data TEXT NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, version, room_id, session_id),
	FOREIGN KEY (user_id, version) REFERENCES key_backup_versions (user_id, version) ON DELETE CASCADE
);

-- table key_backup_users
CREATE TABLE key_backup_users (
	user_id TEXT PRIMARY KEY REFERENCES users (user_id),
	last_version BIGINT NOT NULL
);

-- table key_backup_versions
CREATE TABLE key_backup_versions (
	user_id TEXT NOT NULL,
	version BIGINT NOT NULL,
	algorithm TEXT NOT NULL,
	auth_data TEXT NOT NULL, -- a JSON object, opaque to the server
	etag BIGINT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, version)
);

-- table key_signatures
CREATE TABLE key_signatures (
	target_user_id TEXT NOT NULL,
	target_key_id TEXT NOT NULL,
	signer_user_id TEXT NOT NULL,
	signer_key_id TEXT NOT NULL,
	signature TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- table login_tokens
CREATE TABLE login_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	expires_ts BIGINT NOT NULL
);

-- table media
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
	legacy_visible BOOLEAN NOT NULL, remote BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (server_name, media_id)
);

-- table media_content
CREATE TABLE media_content (
	content_hash TEXT PRIMARY KEY, -- sha256 of the bytes, lower-case hex; the blob's name
	size BIGINT NOT NULL,
	created_ts BIGINT NOT NULL
);

-- table media_references
CREATE TABLE media_references (
	server_name TEXT NOT NULL,
	media_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (server_name, media_id, event_id)
);

-- table media_thumbnails
CREATE TABLE media_thumbnails (
	server_name TEXT NOT NULL,
	media_id TEXT NOT NULL,
	-- the size class served: one of media.thumbnail_sizes
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	method TEXT NOT NULL, -- crop or scale
	animated BOOLEAN NOT NULL,
	content_hash TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size BIGINT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (server_name, media_id, width, height, method, animated)
);

-- table migration_channels
CREATE TABLE migration_channels (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	name TEXT NOT NULL,
	-- planned, imported, bridged, matrix-primary, archived
	state TEXT NOT NULL,
	-- the state before the last change, for a rollback; '' for none
	previous_state TEXT NOT NULL,
	-- the room of the past when the portal had live traffic before the import; '' otherwise
	history_room_id TEXT NOT NULL,
	-- messages older than this sort key (Slack ts in microseconds) go to the history room
	history_before BIGINT NOT NULL,
	messages_imported BIGINT NOT NULL,
	messages_failed BIGINT NOT NULL,
	files_missing BIGINT NOT NULL,
	-- the ts of the notice the cutover posted and pinned in the remote channel; '' for none
	notice_ts TEXT NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id)
);

-- table migration_jobs
CREATE TABLE migration_jobs (
	id TEXT NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL,      -- slack-export, slack-api
	params TEXT NOT NULL,    -- JSON of importer.Options
	state TEXT NOT NULL,     -- running, done, failed, cancelled
	progress TEXT NOT NULL,  -- JSON of importer.Progress
	report TEXT NOT NULL,    -- JSON of importer.Report; '' until the job ends
	error TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL
);

-- table one_time_keys
CREATE TABLE one_time_keys (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	upload_seq BIGINT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, algorithm, key_id),
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table openid_tokens
CREATE TABLE openid_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	expires_ts BIGINT NOT NULL
);

-- table presence
CREATE TABLE presence (
	user_id TEXT PRIMARY KEY,
	state TEXT NOT NULL, -- online, unavailable or offline
	status_msg TEXT NOT NULL, -- '' for none
	last_active_ts BIGINT NOT NULL, -- Unix ms of the user's last pro-active action; 0 for never
	currently_active BOOLEAN NOT NULL,
	stream_pos BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL
);

-- table push_actions
CREATE TABLE push_actions (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	-- 'main', or the root of the thread the event is in (push.md, "Marking notifications as read")
	thread_id TEXT NOT NULL,
	highlight BOOLEAN NOT NULL,
	actions TEXT NOT NULL, -- the matching rule's actions, JSON
	ts BIGINT NOT NULL, -- when the row was written, for purging by age
	PRIMARY KEY (user_id, stream_pos)
);

-- table pushers
CREATE TABLE pushers (
	user_id TEXT NOT NULL,
	app_id TEXT NOT NULL,
	pushkey TEXT NOT NULL,
	device_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	app_display_name TEXT NOT NULL,
	device_display_name TEXT NOT NULL,
	profile_tag TEXT NOT NULL,
	lang TEXT NOT NULL,
	data TEXT NOT NULL, -- JSON: url, format and whatever else the client set
	created_ts BIGINT NOT NULL,
	-- the stream position of the last of the user's push_actions handed to the gateway
	delivered_pos BIGINT NOT NULL,
	-- when delivery started failing (0: it is not), so that a notification is given up on
	-- after a day of failures
	failing_since BIGINT NOT NULL,
	PRIMARY KEY (user_id, app_id, pushkey),
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table receipts
CREATE TABLE receipts (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	-- m.read, m.read.private, or m.fully_read (kept here until room account data exists; it is
	-- never sent as an m.receipt)
	receipt_type TEXT NOT NULL,
	-- '' for an unthreaded receipt, otherwise 'main' or a thread root's event ID
	thread_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	-- the stream position of event_id: a receipt only ever moves forward, so a late or repeated
	-- request for an earlier event changes nothing
	event_pos BIGINT NOT NULL,
	ts BIGINT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);

-- table refresh_tokens
CREATE TABLE refresh_tokens (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	next_token_hash TEXT,
	created_ts BIGINT NOT NULL,
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table registration_tokens
CREATE TABLE registration_tokens (
	token TEXT PRIMARY KEY,
	uses_allowed BIGINT,
	pending BIGINT NOT NULL DEFAULT 0,
	completed BIGINT NOT NULL DEFAULT 0,
	expiry_ts BIGINT,
	created_ts BIGINT NOT NULL
);

-- table reports
CREATE TABLE reports (
	report_id BIGINT PRIMARY KEY,
	kind TEXT NOT NULL, -- event, room or user
	reporter TEXT NOT NULL,
	room_id TEXT NOT NULL, -- '' for a user report
	event_id TEXT NOT NULL, -- '' unless an event was reported
	user_id TEXT NOT NULL, -- the reported user; for an event, its sender
	reason TEXT NOT NULL,
	received_ts BIGINT NOT NULL
);

-- table room_aliases
CREATE TABLE room_aliases (
	alias TEXT PRIMARY KEY,
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	creator TEXT NOT NULL,
	created_ts BIGINT NOT NULL
);

-- table room_directory_networks
CREATE TABLE room_directory_networks (
	instance_id TEXT NOT NULL,
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	-- the parts of instance_id, kept apart since an appservice ID may itself contain '|'
	appservice_id TEXT NOT NULL,
	network_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (instance_id, room_id)
);

-- table rooms
CREATE TABLE rooms (
	room_id TEXT PRIMARY KEY,
	room_version TEXT NOT NULL,
	creator TEXT NOT NULL,
	is_public BOOLEAN NOT NULL DEFAULT FALSE,
	-- the state snapshot after the newest state event (the room's current state)
	state_snapshot BIGINT NOT NULL DEFAULT 0,
	created_ts BIGINT NOT NULL
);

-- table schema_migrations
CREATE TABLE schema_migrations (
	owner TEXT NOT NULL,
	version BIGINT NOT NULL,
	name TEXT NOT NULL,
	applied_ts BIGINT NOT NULL,
	PRIMARY KEY (owner, version)
);

-- table sent_read_positions
CREATE TABLE sent_read_positions (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	thread_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id, thread_id)
);

-- table state_snapshot_entries
CREATE TABLE state_snapshot_entries (
	snapshot_id BIGINT NOT NULL REFERENCES state_snapshots (snapshot_id),
	type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_id TEXT,
	PRIMARY KEY (snapshot_id, type, state_key)
);

-- table state_snapshots
CREATE TABLE state_snapshots (
	snapshot_id BIGINT PRIMARY KEY,
	room_id TEXT NOT NULL,
	parent_id BIGINT NOT NULL,
	base_id BIGINT NOT NULL,
	seq BIGINT NOT NULL,
	created_ts BIGINT NOT NULL
);

-- table to_device_messages
CREATE TABLE to_device_messages (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	sender TEXT NOT NULL,
	type TEXT NOT NULL,
	content TEXT NOT NULL, -- a JSON object
	created_ts BIGINT NOT NULL, -- for purging messages a device never collects
	PRIMARY KEY (user_id, device_id, stream_pos),
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- table to_device_outbox
CREATE TABLE to_device_outbox (
	destination TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	content TEXT NOT NULL, -- the EDU content: sender, type, message_id, messages
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (destination, stream_pos)
);

-- table to_device_txns
CREATE TABLE to_device_txns (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, event_type, txn_id)
);

-- table transaction_ids
CREATE TABLE transaction_ids (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, txn_id)
);

-- table uia_sessions
CREATE TABLE uia_sessions (
	session_id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL DEFAULT '',
	request_hash TEXT NOT NULL,
	completed TEXT NOT NULL DEFAULT '[]',
	registration_token TEXT,
	created_ts BIGINT NOT NULL
);

-- table url_previews
CREATE TABLE url_previews (
	url TEXT PRIMARY KEY,
	properties TEXT NOT NULL, -- the JSON object served, og:image already an mxc:// URI
	fetched_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL
);

-- table users
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
, locked BOOLEAN NOT NULL DEFAULT FALSE, suspended BOOLEAN NOT NULL DEFAULT FALSE);

-- index access_tokens_device
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

-- index access_tokens_refresh
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_token_hash);

-- index account_data_stream
CREATE INDEX account_data_stream ON account_data (user_id, stream_pos);

-- index bridge_logins_remote
CREATE UNIQUE INDEX bridge_logins_remote ON bridge_logins (network, workspace, remote_id);

-- index bridge_messages_created
CREATE INDEX bridge_messages_created ON bridge_messages (created_ts);

-- index bridge_messages_event
CREATE UNIQUE INDEX bridge_messages_event ON bridge_messages (event_id);

-- index bridge_messages_order
CREATE INDEX bridge_messages_order ON bridge_messages (network, workspace, channel_id, sort_key);

-- index bridge_portals_room
CREATE UNIQUE INDEX bridge_portals_room ON bridge_portals (room_id);

-- index bridge_reactions_event
CREATE UNIQUE INDEX bridge_reactions_event ON bridge_reactions (event_id);

-- index current_state_member
CREATE INDEX current_state_member ON current_state (state_key, membership) WHERE type = 'm.room.member';

-- index device_list_changes_ts
CREATE INDEX device_list_changes_ts ON device_list_changes (ts);

-- index device_list_changes_user
CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream_pos);

-- index event_relations_parent
CREATE INDEX event_relations_parent ON event_relations (relates_to, stream_pos);

-- index event_relations_room
CREATE INDEX event_relations_room ON event_relations (room_id, rel_type, stream_pos);

-- index event_search_room
CREATE INDEX event_search_room ON event_search (room_id, stream_pos);

-- index events_membership
CREATE INDEX events_membership ON events (state_key, stream_pos) WHERE type = 'm.room.member';

-- index events_room_stream
CREATE INDEX events_room_stream ON events (room_id, stream_pos);

-- index events_room_topo
CREATE INDEX events_room_topo ON events (room_id, depth, stream_pos);

-- index events_room_ts
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);

-- index login_tokens_expiry
CREATE INDEX login_tokens_expiry ON login_tokens (expires_ts);

-- index media_content_hash
CREATE INDEX media_content_hash ON media (content_hash);

-- index media_last_access
CREATE INDEX media_last_access ON media (last_access_ts);

-- index media_references_room
CREATE INDEX media_references_room ON media_references (room_id);

-- index media_remote_last_access
CREATE INDEX media_remote_last_access ON media (remote, last_access_ts);

-- index media_thumbnails_content_hash
CREATE INDEX media_thumbnails_content_hash ON media_thumbnails (content_hash);

-- index media_uploader
CREATE INDEX media_uploader ON media (uploader);

-- index migration_jobs_updated
CREATE INDEX migration_jobs_updated ON migration_jobs (updated_ts);

-- index one_time_keys_claim
CREATE INDEX one_time_keys_claim ON one_time_keys (user_id, device_id, algorithm, upload_seq);

-- index openid_tokens_expiry
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);

-- index presence_stream
CREATE INDEX presence_stream ON presence (stream_pos);

-- index push_actions_event
CREATE INDEX push_actions_event ON push_actions (event_id);

-- index push_actions_room
CREATE INDEX push_actions_room ON push_actions (user_id, room_id, stream_pos);

-- index push_actions_ts
CREATE INDEX push_actions_ts ON push_actions (ts);

-- index pushers_app_pushkey
CREATE INDEX pushers_app_pushkey ON pushers (app_id, pushkey);

-- index receipts_room_stream
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_pos);

-- index receipts_stream
CREATE INDEX receipts_stream ON receipts (stream_pos);

-- index refresh_tokens_device
CREATE INDEX refresh_tokens_device ON refresh_tokens (user_id, device_id);

-- index refresh_tokens_next
CREATE INDEX refresh_tokens_next ON refresh_tokens (next_token_hash);

-- index reports_received
CREATE INDEX reports_received ON reports (received_ts);

-- index room_aliases_room
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- index room_directory_networks_room
CREATE INDEX room_directory_networks_room ON room_directory_networks (room_id);

-- index rooms_public
CREATE INDEX rooms_public ON rooms (room_id) WHERE is_public;

-- index state_snapshots_room
CREATE INDEX state_snapshots_room ON state_snapshots (room_id);

-- index to_device_messages_pos
CREATE INDEX to_device_messages_pos ON to_device_messages (stream_pos);

-- index to_device_messages_ts
CREATE INDEX to_device_messages_ts ON to_device_messages (created_ts);

-- index to_device_outbox_ts
CREATE INDEX to_device_outbox_ts ON to_device_outbox (created_ts);

-- index to_device_txns_ts
CREATE INDEX to_device_txns_ts ON to_device_txns (created_ts);

-- index url_previews_expires
CREATE INDEX url_previews_expires ON url_previews (expires_ts);

-- index users_appservice
CREATE INDEX users_appservice ON users (appservice_id) WHERE appservice_id IS NOT NULL;

