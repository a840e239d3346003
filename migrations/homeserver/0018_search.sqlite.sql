-- 0018: server-side search (content/client-server-api/modules/search.md): the searchable text
-- of each event that is not redacted, for POST /search: content.body of m.room.message,
-- content.name of m.room.name, and content.topic of m.room.topic with the text/plain bodies of
-- its m.topic. storage/search.go indexes events as they are stored and drops them when they
-- are redacted; events stored before this migration are indexed here.
--
-- event_search holds what a search filters on; event_search_text is the FTS5 index of the
-- text, one row per event_search row with the event's stream position as its rowid. It is
-- contentless (the text is in the events' PDUs already) with contentless_delete so that a
-- redaction can remove a row. Its tokenizer breaks words where storage.SearchTokens does (at
-- every character that is not a letter, number, mark or private-use character) and folds case
-- but keeps diacritics, as PostgreSQL's 'simple' configuration does (0017_search.postgres.sql),
-- so that both engines find the same events.
CREATE TABLE event_search (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL UNIQUE,
	type TEXT NOT NULL,
	sender TEXT NOT NULL,
	search_key TEXT NOT NULL
);
CREATE INDEX event_search_room ON event_search (room_id, stream_pos);
CREATE VIRTUAL TABLE event_search_text USING fts5(
	text,
	content = '',
	contentless_delete = 1,
	tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"
);

CREATE TEMP TABLE search_backfill AS
SELECT event_id, room_id, stream_pos, type, sender,
	CASE type WHEN 'm.room.message' THEN 'content.body' WHEN 'm.room.name' THEN 'content.name' ELSE 'content.topic' END AS search_key,
	CASE type
		WHEN 'm.room.message' THEN CASE WHEN json_type(j, '$.content.body') = 'text' THEN json_extract(j, '$.content.body') END
		WHEN 'm.room.name' THEN CASE WHEN json_type(j, '$.content.name') = 'text' THEN json_extract(j, '$.content.name') END
		ELSE trim(COALESCE(CASE WHEN json_type(j, '$.content.topic') = 'text' THEN json_extract(j, '$.content.topic') END, '') || ' ' ||
			COALESCE((SELECT group_concat(body, ' ') FROM (
				SELECT DISTINCT CASE WHEN t.type = 'object' AND json_type(t.value, '$.body') = 'text'
						AND COALESCE(json_extract(t.value, '$.mimetype'), 'text/plain') = 'text/plain'
					THEN json_extract(t.value, '$.body') END AS body
				FROM json_each(CASE WHEN json_type(j, '$.content."m.topic"."m.text"') = 'array'
					THEN json_extract(j, '$.content."m.topic"."m.text"') ELSE '[]' END) t)
				WHERE body IS NOT NULL AND body IS NOT json_extract(j, '$.content.topic')), ''))
	END AS text
FROM (SELECT event_id, room_id, stream_pos, type, sender, CASE WHEN json_valid(j) THEN j ELSE '{}' END AS j
	FROM (SELECT event_id, room_id, stream_pos, type, sender, CAST(pdu AS TEXT) AS j FROM events
		WHERE redacted_by IS NULL AND (type = 'm.room.message' AND state_key IS NULL
			OR type IN ('m.room.name', 'm.room.topic') AND state_key = '')) raw) e;

INSERT INTO event_search (event_id, room_id, stream_pos, type, sender, search_key)
SELECT event_id, room_id, stream_pos, type, sender, search_key FROM search_backfill WHERE text <> '';
INSERT INTO event_search_text (rowid, text)
SELECT stream_pos, text FROM search_backfill WHERE text <> '';
DROP TABLE search_backfill;
