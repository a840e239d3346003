-- 0015: event relations (content/client-server-api/_index.md, "Forming relationships between
-- events"): every event whose content's m.relates_to names an event and a rel_type, indexed by
-- the event it relates to, for /relations, /threads and bundled aggregations. Events stored
-- before this migration are indexed from their PDUs here; later ones as they are stored.
CREATE TABLE event_relations (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	relates_to TEXT NOT NULL,
	rel_type TEXT NOT NULL,
	type TEXT NOT NULL,
	sender TEXT NOT NULL,
	stream_pos BIGINT NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (relates_to, stream_pos);
CREATE INDEX event_relations_room ON event_relations (room_id, rel_type, stream_pos);

INSERT INTO event_relations (event_id, room_id, relates_to, rel_type, type, sender, stream_pos)
SELECT event_id, room_id, rel->>'event_id', rel->>'rel_type', type, sender, stream_pos
FROM (SELECT event_id, room_id, type, sender, stream_pos,
		convert_from(pdu, 'UTF8')::jsonb -> 'content' -> 'm.relates_to' AS rel FROM events) e
WHERE jsonb_typeof(rel) = 'object' AND jsonb_typeof(rel -> 'event_id') = 'string'
	AND jsonb_typeof(rel -> 'rel_type') = 'string';
