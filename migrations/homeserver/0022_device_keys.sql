-- 0022: end-to-end encryption keys (content/client-server-api/modules/end_to_end_encryption.md):
-- each device's identity keys, one-time and fallback keys, each user's cross-signing keys and the
-- signatures made with them, and the 'device_lists' stream of changes to a user's devices and
-- keys, from which /sync and /keys/changes say whose device list to fetch again. Key objects
-- are kept as the JSON the client signed: a signature covers every field, known or not.

-- The device_keys object a device uploaded (without unsigned), one per device; it goes with
-- the device.
CREATE TABLE device_keys (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id),
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- One-time keys, each handed out once by /keys/claim and deleted in the same transaction.
-- upload_seq orders them by upload (the 'one_time_key_uploads' counter, one value per
-- upload): the oldest are claimed first.
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
CREATE INDEX one_time_keys_claim ON one_time_keys (user_id, device_id, algorithm, upload_seq);

-- A device's fallback key per algorithm: handed out when its one-time keys run out, and kept
-- (marked used) until the device uploads a new one.
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

-- A user's cross-signing keys (data/api/client-server/cross_signing.yaml), by usage:
-- 'master', 'self_signing' or 'user_signing'. public_key is the unpadded base64 ed25519 key.
CREATE TABLE cross_signing_keys (
	user_id TEXT NOT NULL REFERENCES users (user_id),
	key_type TEXT NOT NULL,
	public_key TEXT NOT NULL,
	key_json TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded with /keys/signatures/upload, by the key they sign: a device's keys
-- (target_key_id is the device ID) or a master key (its public key). A signature on a
-- device is deleted with the device, so that a new device reusing its ID does not inherit
-- it; one on a replaced master key is deleted when the new key is uploaded. signer_key_id is
-- the full key ID, 'ed25519:...'.
CREATE TABLE key_signatures (
	target_user_id TEXT NOT NULL,
	target_key_id TEXT NOT NULL,
	signer_user_id TEXT NOT NULL,
	signer_key_id TEXT NOT NULL,
	signature TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- The 'device_lists' stream: one row per change of a user's device list or keys (device keys
-- uploaded, a device renamed or deleted, cross-signing keys or signatures changed); device_id
-- is '' for a change of the user's cross-signing keys. Old rows can be purged by ts: a sync
-- token older than the purge then misses those changes.
CREATE TABLE device_list_changes (
	stream_pos BIGINT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	ts BIGINT NOT NULL
);
CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream_pos);
CREATE INDEX device_list_changes_ts ON device_list_changes (ts);

INSERT INTO counters (name, value) VALUES ('device_lists', 0), ('one_time_key_uploads', 0);
