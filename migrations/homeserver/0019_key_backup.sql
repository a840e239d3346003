-- 0019: server-side key backups (content/client-server-api/modules/end_to_end_encryption.md,
-- "Server-side key backups"; data/api/client-server/key_backup.yaml). A backup belongs to the
-- user, not to a device: it outlives every device, which is its point, so nothing here
-- references devices. It is kept until the user deletes it, so nothing is purged by age.

-- One row per user who ever created a backup. last_version is the last version number handed
-- out: versions are numbered per user, 1, 2, 3, and never reused, so that a deleted version's
-- number still answers DELETE with success and never names a newer backup. Every write to a
-- user's backups first locks this row, which serializes them: a key written while a new
-- version is created either lands before it or is refused as written to an old version.
CREATE TABLE key_backup_users (
	user_id TEXT PRIMARY KEY REFERENCES users (user_id),
	last_version BIGINT NOT NULL
);

-- The backup versions that exist (deleting a version deletes its row). etag counts the changes
-- to the version's keys: it goes up whenever a key is added, replaced or deleted.
CREATE TABLE key_backup_versions (
	user_id TEXT NOT NULL,
	version BIGINT NOT NULL,
	algorithm TEXT NOT NULL,
	auth_data TEXT NOT NULL, -- a JSON object, opaque to the server
	etag BIGINT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, version)
);

-- The backed-up keys: one per Megolm session of a room, in one version. session_data is the
-- client's encrypted JSON object, kept as received; the three metadata columns decide whether
-- a newly uploaded key replaces the stored one.
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
