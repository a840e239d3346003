-- 0018: server-side search (content/client-server-api/modules/search.md): the searchable text
-- of each event that is not redacted, for POST /search: content.body of m.room.message,
-- content.name of m.room.name, and content.topic of m.room.topic with the text/plain bodies of
-- its m.topic. storage/search.go indexes events as they are stored and drops them when they
-- are redacted; events stored before this migration are indexed here.
--
-- The text search configuration is 'simple' (lower-casing only: no stemming, no stop words),
-- not 'english': teams write in many languages, a query made of stop words ("who", "the") must
-- still find messages, and SQLite's FTS5 table (0017_search.sqlite.sql) breaks and folds words
-- the same way, so a team moving from SQLite to PostgreSQL gets the same results. Each query
-- term matches as a prefix (storage/search.go), which covers most of what stemming would.
--
-- Later events are indexed from the words storage.SearchTokens splits their text into; here
-- ASCII punctuation becomes a word break to the same end.
CREATE TABLE event_search (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL UNIQUE,
	type TEXT NOT NULL,
	sender TEXT NOT NULL,
	search_key TEXT NOT NULL,
	vector TSVECTOR NOT NULL
);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
CREATE INDEX event_search_room ON event_search (room_id, stream_pos);

INSERT INTO event_search (event_id, room_id, stream_pos, type, sender, search_key, vector)
SELECT event_id, room_id, stream_pos, type, sender, search_key,
	to_tsvector('simple', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))
FROM (
	SELECT event_id, room_id, stream_pos, type, sender,
		CASE type WHEN 'm.room.message' THEN 'content.body' WHEN 'm.room.name' THEN 'content.name' ELSE 'content.topic' END AS search_key,
		CASE type
			WHEN 'm.room.message' THEN CASE WHEN jsonb_typeof(c -> 'body') = 'string' THEN c ->> 'body' END
			WHEN 'm.room.name' THEN CASE WHEN jsonb_typeof(c -> 'name') = 'string' THEN c ->> 'name' END
			ELSE concat_ws(' ', CASE WHEN jsonb_typeof(c -> 'topic') = 'string' THEN c ->> 'topic' END,
				(SELECT string_agg(DISTINCT b.body, ' ') FROM (
					SELECT t ->> 'body' AS body FROM jsonb_array_elements(
						CASE WHEN jsonb_typeof(c -> 'm.topic' -> 'm.text') = 'array' THEN c -> 'm.topic' -> 'm.text' ELSE '[]'::jsonb END) t
					WHERE jsonb_typeof(t) = 'object' AND jsonb_typeof(t -> 'body') = 'string'
						AND COALESCE(t ->> 'mimetype', 'text/plain') = 'text/plain') b
				WHERE b.body IS DISTINCT FROM c ->> 'topic'))
		END AS text
	FROM (SELECT event_id, room_id, stream_pos, type, sender, convert_from(pdu, 'UTF8')::jsonb -> 'content' AS c
		FROM events
		WHERE redacted_by IS NULL AND (type = 'm.room.message' AND state_key IS NULL
			OR type IN ('m.room.name', 'm.room.topic') AND state_key = '')) e
) s
WHERE text <> '';
