-- 0004: read receipts (m.read, m.read.private) and the fully-read marker (m.fully_read), one row
-- per (room, user, type, thread), with a stream position from the 'receipts' counter so /sync
-- can send what changed since a token. Typing notifications are not stored: they are ephemeral
-- and live in memory (homeserver/syncapi/typing.go).
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
CREATE INDEX receipts_stream ON receipts (stream_pos);
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_pos);

INSERT INTO counters (name, value) VALUES ('receipts', 0);
