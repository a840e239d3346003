-- 0020: send-to-device messaging (content/client-server-api/modules/send_to_device.md). Each
-- local device has a persisted queue of messages, each with a position from the 'to_device'
-- counter; /sync hands a device its messages after the position its since token acknowledges,
-- and deletes them once a later token covers them. Messages for other servers wait in an
-- outbox, one row per destination and request, already in the shape of the m.direct_to_device
-- EDU the federation sender will send (server-server-api.md, "Send-to-device messaging").
INSERT INTO counters (name, value) VALUES ('to_device', 0);

-- One request takes one position, and puts at most one message in each device's queue, so
-- (user_id, device_id, stream_pos) identifies a message. A queue goes with its device.
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
CREATE INDEX to_device_messages_ts ON to_device_messages (created_ts);

-- Transaction IDs of /sendToDevice requests, for idempotent retries. A transaction ID is scoped
-- to a device and an endpoint path, which holds the event type ("Transaction identifiers" in
-- content/client-server-api/_index.md). Like transaction_ids it has no foreign key: an
-- appservice sends without a device (device_id '').
CREATE TABLE to_device_txns (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, event_type, txn_id)
);
CREATE INDEX to_device_txns_ts ON to_device_txns (created_ts);

-- Messages for users of other servers, until federation sends them: the content of one
-- m.direct_to_device EDU per destination and request, in the order of stream_pos.
CREATE TABLE to_device_outbox (
	destination TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	content TEXT NOT NULL, -- the EDU content: sender, type, message_id, messages
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (destination, stream_pos)
);
CREATE INDEX to_device_outbox_ts ON to_device_outbox (created_ts);
