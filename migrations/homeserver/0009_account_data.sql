-- 0009: account data (content/client-server-api/modules/account_data.md): a user's JSON objects
-- by type, global (room_id '') or for one room, each with a stream position from the
-- 'account_data' counter so /sync can send what changed since a token. The fully-read markers,
-- kept in receipts until now, move here as the m.fully_read room account data the spec names.
CREATE TABLE account_data (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL, -- '' for global account data
	type TEXT NOT NULL,
	content TEXT NOT NULL, -- a JSON object
	stream_pos BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_pos);

INSERT INTO counters (name, value) VALUES ('account_data', 1);
INSERT INTO account_data (user_id, room_id, type, content, stream_pos, updated_ts)
	SELECT user_id, room_id, 'm.fully_read', '{"event_id":"' || event_id || '"}', 1, ts
	FROM receipts WHERE receipt_type = 'm.fully_read' AND thread_id = '';
DELETE FROM receipts WHERE receipt_type = 'm.fully_read';
