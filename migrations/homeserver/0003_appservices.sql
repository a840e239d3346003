-- 0003: application-service delivery. Events are not copied into a queue: each appservice has a
-- cursor into the event stream, and at most one transaction in flight whose body is stored
-- before it is sent, so a retry after a failure or a restart sends the same contents under the
-- same transaction ID. A down appservice therefore loses nothing, and the queue costs nothing
-- per event.
CREATE TABLE appservice_streams (
	appservice_id TEXT PRIMARY KEY,
	-- every event at or below this stream position has been delivered or was of no interest
	delivered_pos BIGINT NOT NULL,
	next_txn_id BIGINT NOT NULL DEFAULT 1,
	last_success_ts BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	last_error_ts BIGINT NOT NULL DEFAULT 0,
	created_ts BIGINT NOT NULL
);

CREATE TABLE appservice_txns (
	appservice_id TEXT PRIMARY KEY REFERENCES appservice_streams (appservice_id),
	txn_id BIGINT NOT NULL,
	-- delivering this transaction moves the cursor here
	upto_pos BIGINT NOT NULL,
	body BYTEA NOT NULL,
	event_count BIGINT NOT NULL,
	created_ts BIGINT NOT NULL
);

-- Users who allowed an appservice to act as them (double puppeting), revocable at any time.
CREATE TABLE appservice_grants (
	user_id TEXT NOT NULL,
	appservice_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, appservice_id)
);
