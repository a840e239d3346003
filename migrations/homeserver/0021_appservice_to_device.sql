-- 0021: end-to-end encryption data for application services (issue 3): to-device messages
-- (MSC4203) and device-list changes (MSC3202). An appservice that receives ephemeral data gets
-- the to-device messages of the users it registered in its transactions, instead of their
-- devices collecting them through /sync; one that asked for MSC3202 gets the device-list
-- changes of the users it shares rooms with. Its stream keeps how far it has taken each
-- stream, and the transaction in flight how far it reaches, so a retried transaction resends
-- exactly what it carried and the to-device messages go when it is delivered. SQLite adds one
-- column per ALTER TABLE.
ALTER TABLE appservice_streams ADD COLUMN to_device_pos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE appservice_streams ADD COLUMN device_lists_pos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE appservice_txns ADD COLUMN to_device_upto BIGINT NOT NULL DEFAULT 0;
ALTER TABLE appservice_txns ADD COLUMN device_lists_upto BIGINT NOT NULL DEFAULT 0;
CREATE INDEX to_device_messages_pos ON to_device_messages (stream_pos);
CREATE INDEX users_appservice ON users (appservice_id) WHERE appservice_id IS NOT NULL;
