-- 0012: what users report to the server's admins (content/client-server-api/modules/report_content.md):
-- an event, a room or a user, with the reporter's reason, numbered by the 'reports' counter.
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
CREATE INDEX reports_received ON reports (received_ts);

INSERT INTO counters (name, value) VALUES ('reports', 0);
