package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/id"
)

// The keys of event content that POST /search searches (data/api/client-server/search.yaml),
// each in one event type (content/client-server-api/modules/search.md).
const (
	SearchKeyBody  = "content.body"  // m.room.message
	SearchKeyName  = "content.name"  // m.room.name
	SearchKeyTopic = "content.topic" // m.room.topic, with the text/plain bodies of m.topic
)

// maxSearchTerms bounds the words of one search, so that a pasted page cannot make a query of
// thousands of terms.
const maxSearchTerms = 16

// SearchableText returns the key under which an event is searched and its text there; ok is
// false for an event search does not index (another type, a state event of m.room.message,
// a name or topic with a state key, or no text).
func SearchableText(e *Event) (key, text string, ok bool) {
	content := gjson.GetBytes(e.PDU, "content")
	stringAt := func(path string) string {
		if v := content.Get(path); v.Type == gjson.String {
			return v.Str
		}
		return ""
	}
	switch {
	case e.Type == "m.room.message" && !e.IsState():
		key, text = SearchKeyBody, stringAt("body")
	case e.Type == "m.room.name" && e.IsState() && *e.StateKey == "":
		key, text = SearchKeyName, stringAt("name")
	case e.Type == "m.room.topic" && e.IsState() && *e.StateKey == "":
		key, text = SearchKeyTopic, topicText(content)
	}
	return key, text, strings.TrimSpace(text) != ""
}

// topicText is an m.room.topic's topic with the text/plain bodies of its m.topic that differ
// from it (the spec says topic SHOULD duplicate them, so usually there are none).
func topicText(content gjson.Result) string {
	topic := content.Get("topic")
	parts := []string{}
	if topic.Type == gjson.String {
		parts = append(parts, topic.Str)
	}
	for _, t := range content.Get(`m\.topic.m\.text`).Array() {
		body, mimetype := t.Get("body"), t.Get("mimetype")
		if body.Type != gjson.String || mimetype.Exists() && mimetype.Str != "text/plain" || body.Str == topic.Str {
			continue
		}
		parts = append(parts, body.Str)
	}
	return strings.Join(parts, " ")
}

// SearchTokens splits text into the lower-cased words that search indexes and matches: runs of
// letters, numbers, marks and private-use characters. Everything else, the punctuation and
// operators of full-text query syntax included, only separates words, so a word can be put
// in a query as it is.
func SearchTokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r) && !unicode.Is(unicode.Co, r)
	})
}

const (
	insertSearchPostgres = `INSERT INTO event_search (event_id, room_id, stream_pos, type, sender, search_key, vector)
		VALUES ($1, $2, $3, $4, $5, $6, to_tsvector('simple', $7))`
	insertSearchSQLite = `INSERT INTO event_search (event_id, room_id, stream_pos, type, sender, search_key)
		VALUES ($1, $2, $3, $4, $5, $6)`
	insertSearchTextSQLite = `INSERT INTO event_search_text (rowid, text) VALUES ($1, $2)`
	deleteSearchTextSQLite = `DELETE FROM event_search_text WHERE rowid IN (SELECT stream_pos FROM event_search WHERE event_id = $1)`
	deleteSearch           = `DELETE FROM event_search WHERE event_id = $1`
)

// indexSearch adds e's searchable text, if it has any, to the search index. InsertEvent
// calls it. The index gets the words of SearchTokens, so that both engines see the same words.
func (c conn) indexSearch(ctx context.Context, e *Event) error {
	key, text, ok := SearchableText(e)
	if !ok {
		return nil
	}
	words := strings.Join(SearchTokens(text), " ")
	var err error
	if c.dialect == Postgres {
		_, err = c.q.Exec(ctx, insertSearchPostgres, e.ID, e.RoomID, e.StreamPos, e.Type, e.Sender, key, words)
	} else if _, err = c.q.Exec(ctx, insertSearchSQLite, e.ID, e.RoomID, e.StreamPos, e.Type, e.Sender, key); err == nil {
		_, err = c.q.Exec(ctx, insertSearchTextSQLite, e.StreamPos, words)
	}
	if err != nil {
		return fmt.Errorf("index %s for search: %w", e.ID, err)
	}
	return nil
}

// unindexSearch removes an event from the search index, as its redaction requires.
func (c conn) unindexSearch(ctx context.Context, eventID id.EventID) error {
	if c.dialect == SQLite {
		if _, err := c.q.Exec(ctx, deleteSearchTextSQLite, eventID); err != nil {
			return fmt.Errorf("unindex %s: %w", eventID, err)
		}
	}
	if _, err := c.q.Exec(ctx, deleteSearch, eventID); err != nil {
		return fmt.Errorf("unindex %s: %w", eventID, err)
	}
	return nil
}

// SearchQuery selects the indexed events whose text has, for each term, a word starting with
// it. The lists narrow the events down; an absent (nil) list places no restriction.
type SearchQuery struct {
	Terms      []string    // words as SearchTokens splits them; none matches nothing
	Keys       []string    // SearchKeyBody, SearchKeyName, SearchKeyTopic; nil: all
	RoomIDs    []id.RoomID // the rooms to search; none matches nothing
	Senders    []id.UserID
	NotSenders []id.UserID
	Types      []string // exact event types
	NotTypes   []string
	ByRank     bool            // the best matches first; otherwise the newest first
	After      *SearchPosition // only the events after this one in the order (nil: from the first)
	Limit      int
}

// SearchPosition is the place of a hit in the order of a search: its rank (in rank order
// only) and its stream position, which breaks ties.
type SearchPosition struct {
	Rank      float64
	StreamPos int64
}

// SearchHit is an event that matched a search, and how well: higher is closer. Ranks compare
// only within one search.
type SearchHit struct {
	Event *Event
	Rank  float64
}

// Position is the hit's place in the order of its search.
func (h SearchHit) Position() SearchPosition {
	return SearchPosition{Rank: h.Rank, StreamPos: h.Event.StreamPos}
}

// SearchEvents returns up to q.Limit events matching q after q.After, the best first (by rank,
// then the newest first among equals) or the newest first. Ranks come back exactly as the
// database computed them, so a hit's Position pages on from it.
func (c conn) SearchEvents(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	if q.empty() || q.Limit <= 0 {
		return nil, nil
	}
	b := &searchBuilder{}
	from, where, rank := b.match(c.dialect, q.Terms)
	where += b.filters(q)
	order, after := ` ORDER BY m.match_pos DESC`, `TRUE`
	if q.ByRank {
		order = ` ORDER BY m.rank DESC, m.match_pos DESC`
	}
	switch {
	case q.After != nil && q.ByRank:
		r, pos := b.arg(q.After.Rank), b.arg(q.After.StreamPos)
		after = `(m.rank < ` + r + ` OR m.rank = ` + r + ` AND m.match_pos < ` + pos + `)`
	case q.After != nil:
		after = `m.match_pos < ` + b.arg(q.After.StreamPos)
	}
	// The rank is compared outside the query that computes it: SQLite allows bm25() only there.
	query := `SELECT ` + eventColumns + `, m.rank FROM events JOIN (SELECT * FROM (
		SELECT s.event_id AS match_id, s.stream_pos AS match_pos, ` + rank + ` AS rank FROM ` + from + ` WHERE ` + where + `
	) m WHERE ` + after + order + ` LIMIT ` + b.arg(q.Limit) + `) m ON events.event_id = m.match_id` + order
	rows, err := c.q.Query(ctx, query, b.args...)
	if err != nil {
		return nil, fmt.Errorf("search events: %w", err)
	}
	defer rows.Close()
	var out []SearchHit
	for rows.Next() {
		var h SearchHit
		var e Event
		if err := rows.Scan(&e.ID, &e.RoomID, &e.StreamPos, &e.Depth, &e.Type, &e.StateKey, &e.Sender, &e.Membership,
			&e.OriginServerTS, &e.StateBefore, &e.ReplacesState, &e.TxnDevice, &e.TxnID, &e.RedactedBy, &e.PDU, &h.Rank); err != nil {
			return nil, fmt.Errorf("search events: %w", err)
		}
		h.Event = &e
		out = append(out, h)
	}
	return out, rows.Err()
}

// CountSearchHits returns how many events match q, whatever its page (After and Limit).
func (c conn) CountSearchHits(ctx context.Context, q SearchQuery) (int64, error) {
	if q.empty() {
		return 0, nil
	}
	b := &searchBuilder{}
	from, where, _ := b.match(c.dialect, q.Terms)
	where += b.filters(q)
	var n int64
	if err := c.q.QueryRow(ctx, `SELECT COUNT(*) FROM `+from+` WHERE `+where, b.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count search hits: %w", err)
	}
	return n, nil
}

// empty reports whether q can match nothing, without asking the database.
func (q SearchQuery) empty() bool {
	return len(q.Terms) == 0 || len(q.RoomIDs) == 0 ||
		q.Keys != nil && len(q.Keys) == 0 || q.Senders != nil && len(q.Senders) == 0 || q.Types != nil && len(q.Types) == 0
}

// searchBuilder collects the arguments of a search query as it is written.
type searchBuilder struct{ args []any }

// arg adds an argument and returns its placeholder.
func (b *searchBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// searchIn returns " AND col IN (...)" (or NOT IN) over values.
func searchIn[T any](b *searchBuilder, col string, not bool, values []T) string {
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = b.arg(v)
	}
	op := ` IN (`
	if not {
		op = ` NOT IN (`
	}
	return ` AND ` + col + op + strings.Join(ph, ", ") + `)`
}

// match returns the tables of a search (event_search as s), the condition that the text has
// every term as a word prefix, and the expression of the rank. Terms are SearchTokens words,
// which hold no character of either engine's query syntax; quoting them anyway keeps a term
// such as "and" or "or" a word.
func (b *searchBuilder) match(dialect Dialect, terms []string) (from, where, rank string) {
	if len(terms) > maxSearchTerms {
		terms = terms[:maxSearchTerms]
	}
	quoted := make([]string, len(terms))
	if dialect == Postgres {
		for i, t := range terms {
			quoted[i] = `'` + t + `':*`
		}
		query := `to_tsquery('simple', ` + b.arg(strings.Join(quoted, " & ")) + `)`
		return `event_search s`, `s.vector @@ ` + query, `ts_rank(s.vector, ` + query + `)`
	}
	for i, t := range terms {
		quoted[i] = `"` + t + `"*`
	}
	// bm25 is lower for a better match; its negation makes higher closer, as the spec has it.
	return `event_search_text JOIN event_search s ON s.stream_pos = event_search_text.rowid`,
		`event_search_text MATCH ` + b.arg(strings.Join(quoted, " ")), `-bm25(event_search_text)`
}

// filters returns the conditions of q's lists, each starting with AND.
func (b *searchBuilder) filters(q SearchQuery) string {
	where := searchIn(b, `s.room_id`, false, q.RoomIDs)
	if q.Keys != nil {
		where += searchIn(b, `s.search_key`, false, q.Keys)
	}
	if q.Senders != nil {
		where += searchIn(b, `s.sender`, false, q.Senders)
	}
	if len(q.NotSenders) > 0 {
		where += searchIn(b, `s.sender`, true, q.NotSenders)
	}
	if q.Types != nil {
		where += searchIn(b, `s.type`, false, q.Types)
	}
	if len(q.NotTypes) > 0 {
		where += searchIn(b, `s.type`, true, q.NotTypes)
	}
	return where
}
