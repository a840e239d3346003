-- 0011: events by their timestamp in a room, for /timestamp_to_event (jumping to a date), which
-- imported history makes common: its events carry the times they were first written.
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);
