-- 0023: dehydrated devices (MSC3814). A client may park a device in the user's account that no
-- one is logged in on: its keys are published like any device's, so others encrypt room keys
-- to it, and a later login of the user reads its to-device queue back to recover them. The
-- device itself is an ordinary row in devices (with its keys and queue in the usual tables);
-- this table marks which device is the user's dehydrated one, at most one per user, and keeps
-- device_data, the client's encrypted pickle of the device, opaque to the server. The mark goes
-- with its device.
CREATE TABLE dehydrated_devices (
	user_id TEXT PRIMARY KEY,
	device_id TEXT NOT NULL,
	device_data TEXT NOT NULL, -- a JSON object with at least "algorithm"
	created_ts BIGINT NOT NULL,
	FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
