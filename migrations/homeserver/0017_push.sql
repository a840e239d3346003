-- 0017: push notifications (content/client-server-api/modules/push.md, "Server behaviour").
-- push_actions has one row for each event that notifies a local user under their push rules,
-- written in the transaction that stores the event, so that its count is in the same /sync as
-- the event itself. Unread counts are the rows after the user's read receipts, /notifications
-- lists them, and they are the pushers' queue: each pusher keeps how far it has delivered.
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
CREATE INDEX push_actions_room ON push_actions (user_id, room_id, stream_pos);
CREATE INDEX push_actions_event ON push_actions (event_id);
CREATE INDEX push_actions_ts ON push_actions (ts);

-- Sending an event marks what comes before it in its thread as read, as a receipt would
-- (push.md, "Marking notifications as read"), without being one: nobody else sees it.
CREATE TABLE sent_read_positions (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	thread_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id, thread_id)
);

-- HTTP pushers (data/api/client-server/pusher.yaml). A pusher belongs to the device that set
-- it and goes with it.
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
CREATE INDEX pushers_app_pushkey ON pushers (app_id, pushkey);
