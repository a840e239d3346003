package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/id"
)

// Relation is what an event's m.relates_to says: the event it relates to, and how.
type Relation struct {
	RelatesTo id.EventID
	RelType   string
}

// RelationOf reads the relation of an event from its PDU; ok is false for an event that
// relates to none (a reply's m.in_reply_to alone is not a relation).
func RelationOf(pdu []byte) (Relation, bool) {
	rel := gjson.GetBytes(pdu, `content.m\.relates_to`)
	target, relType := rel.Get("event_id"), rel.Get("rel_type")
	if !rel.IsObject() || target.Type != gjson.String || relType.Type != gjson.String || target.Str == "" || relType.Str == "" {
		return Relation{}, false
	}
	return Relation{RelatesTo: id.EventID(target.Str), RelType: relType.Str}, true
}

const insertRelation = `INSERT INTO event_relations (event_id, room_id, relates_to, rel_type, type, sender, stream_pos)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

// insertRelation indexes e's relation, if it has one. InsertEvent calls it.
func (c conn) insertRelation(ctx context.Context, e *Event) error {
	rel, ok := RelationOf(e.PDU)
	if !ok {
		return nil
	}
	if _, err := c.q.Exec(ctx, insertRelation, e.ID, e.RoomID, rel.RelatesTo, rel.RelType, e.Type, e.Sender, e.StreamPos); err != nil {
		return fmt.Errorf("insert relation of %s: %w", e.ID, err)
	}
	return nil
}

// RelationsQuery selects the events relating to one event.
type RelationsQuery struct {
	RoomID    id.RoomID // the room of the event: relations from other rooms are not relations
	RelatesTo id.EventID
	RelType   string // "" for any
	Type      string // "" for any; only with RelType
	Depth     int    // 0: direct relations only; n: also relations of those, up to n steps further
	Before    int64  // backwards: stream positions below this (0: from the newest)
	After     int64  // forwards: stream positions above this
	Backward  bool
	Limit     int
}

// relatedEvents is the walk down the relations of $1 that Relations takes with a depth: the
// direct relations, then the events relating to one already found, up to %[2]s steps past the
// direct ones. Every level matches the same filter (%[1]s) and skips redacted events, whose
// relations are broken. An event relates to one event only, so the walk is a tree meeting each
// event once, unless relations form a cycle, and such a cycle must pass through $1 (event IDs of
// room versions 1 and 2 are chosen by the sending server, so one may name an event naming it):
// $1 is never taken, and the depth bound holds in any case.
const relatedEvents = `WITH RECURSIVE related (event_id, stream_pos, depth) AS (
		SELECT r.event_id, r.stream_pos, 0 FROM event_relations r
		JOIN events x ON x.event_id = r.event_id AND x.redacted_by IS NULL
		WHERE r.relates_to = $1 AND r.event_id <> $1 AND %[1]s
	UNION
		SELECT r.event_id, r.stream_pos, p.depth + 1 FROM related p
		JOIN event_relations r ON r.relates_to = p.event_id
		JOIN events x ON x.event_id = r.event_id AND x.redacted_by IS NULL
		WHERE p.depth < %[2]s AND r.event_id <> $1 AND %[1]s
	) `

// Relations returns the events that are not redacted and relate to q.RelatesTo in its room as q
// says, newest first going backwards, oldest first going forwards. With q.Depth, the events
// relating to those, and so on, count too, when every event between them and q.RelatesTo
// matches q's filter as well (content/client-server-api/_index.md, "Relationships API"); the
// page is then one of them all in stream order, so that the same tokens page through them.
// The walk reads every such event within the depth for each page: a cost bounded by the size
// of the tree, not by the limit.
func (c conn) Relations(ctx context.Context, q RelationsQuery) ([]*Event, error) {
	args := []any{q.RelatesTo, q.RoomID}
	match := `r.room_id = $2`
	if q.RelType != "" {
		args = append(args, q.RelType)
		match += fmt.Sprintf(` AND r.rel_type = $%d`, len(args))
		if q.Type != "" {
			args = append(args, q.Type)
			match += fmt.Sprintf(` AND r.type = $%d`, len(args))
		}
	}
	with := ""
	source := `SELECT r.event_id, r.stream_pos FROM event_relations r
		JOIN events x ON x.event_id = r.event_id AND x.redacted_by IS NULL
		WHERE r.relates_to = $1 AND r.event_id <> $1 AND ` + match
	if q.Depth > 0 {
		args = append(args, q.Depth)
		with = fmt.Sprintf(relatedEvents, match, fmt.Sprintf(`$%d`, len(args)))
		source = `SELECT event_id, stream_pos FROM related`
	}
	cond, order := `TRUE`, `stream_pos`
	if q.Backward {
		order += ` DESC`
		if q.Before > 0 {
			args = append(args, q.Before)
			cond = fmt.Sprintf(`s.stream_pos < $%d`, len(args))
		}
	} else {
		args = append(args, q.After)
		cond = fmt.Sprintf(`s.stream_pos > $%d`, len(args))
	}
	args = append(args, q.Limit)
	page := fmt.Sprintf(`SELECT s.event_id FROM (%s) s WHERE %s ORDER BY s.%s LIMIT $%d`, source, cond, order, len(args))
	return c.queryEvents(ctx, with+`SELECT `+eventColumns+` FROM events WHERE event_id IN (`+page+`) ORDER BY `+order, args...)
}

// ThreadRoot is a thread of a room: its root and the position of its latest reply.
type ThreadRoot struct {
	RootID   id.EventID
	LatestAt int64
}

// ThreadRoots returns up to limit threads of a room whose latest reply is below before (0:
// any), most recently active first; with participant, only the threads whose root they sent
// or that they replied to.
func (c conn) ThreadRoots(ctx context.Context, roomID id.RoomID, participant id.UserID, before int64, limit int) ([]ThreadRoot, error) {
	if before <= 0 {
		before = 1 << 62
	}
	query := `SELECT r.relates_to, MAX(r.stream_pos) AS latest FROM event_relations r
		JOIN events e ON e.event_id = r.event_id AND e.redacted_by IS NULL
		WHERE r.room_id = $1 AND r.rel_type = 'm.thread'
		GROUP BY r.relates_to HAVING MAX(r.stream_pos) < $2`
	args := []any{roomID, before}
	if participant != "" {
		args = append(args, participant)
		query += ` AND (SUM(CASE WHEN r.sender = $3 THEN 1 ELSE 0 END) > 0
			OR EXISTS (SELECT 1 FROM events root WHERE root.event_id = r.relates_to AND root.sender = $3))`
	}
	args = append(args, limit)
	rows, err := c.q.Query(ctx, query+fmt.Sprintf(` ORDER BY latest DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("thread roots: %w", err)
	}
	defer rows.Close()
	var out []ThreadRoot
	for rows.Next() {
		var t ThreadRoot
		if err := rows.Scan(&t.RootID, &t.LatestAt); err != nil {
			return nil, fmt.Errorf("thread roots: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ThreadSummary is the aggregate of a thread for its root's bundled aggregation.
type ThreadSummary struct {
	Count        int64
	LatestPos    int64 // the stream position of the latest reply
	Participated bool  // the viewer sent a reply
}

// ThreadSummaries returns, for those of roots that have replies that are not redacted, the
// number of replies, the position of the latest and whether viewer sent one.
func (c conn) ThreadSummaries(ctx context.Context, roots []id.EventID, viewer id.UserID) (map[id.EventID]ThreadSummary, error) {
	out := map[id.EventID]ThreadSummary{}
	if len(roots) == 0 {
		return out, nil
	}
	args := []any{viewer}
	for _, r := range roots {
		args = append(args, r)
	}
	rows, err := c.q.Query(ctx, `SELECT r.relates_to, COUNT(*), MAX(r.stream_pos), SUM(CASE WHEN r.sender = $1 THEN 1 ELSE 0 END)
		FROM event_relations r JOIN events e ON e.event_id = r.event_id AND e.redacted_by IS NULL
		WHERE r.rel_type = 'm.thread' AND r.relates_to IN (`+placeholders(2, len(roots))+`) GROUP BY r.relates_to`, args...)
	if err != nil {
		return nil, fmt.Errorf("thread summaries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var root id.EventID
		var t ThreadSummary
		var mine int64
		if err := rows.Scan(&root, &t.Count, &t.LatestPos, &mine); err != nil {
			return nil, fmt.Errorf("thread summaries: %w", err)
		}
		t.Participated = mine > 0
		out[root] = t
	}
	return out, rows.Err()
}

// ChildRelation is an event relating to another.
type ChildRelation struct {
	RelatesTo id.EventID
	RelType   string
	EventID   id.EventID
}

// ChildRelations returns the events, not redacted, that relate to one of parents with one of
// relTypes, oldest first.
func (c conn) ChildRelations(ctx context.Context, parents []id.EventID, relTypes []string) ([]ChildRelation, error) {
	if len(parents) == 0 || len(relTypes) == 0 {
		return nil, nil
	}
	var args []any
	for _, p := range parents {
		args = append(args, p)
	}
	for _, t := range relTypes {
		args = append(args, t)
	}
	rows, err := c.q.Query(ctx, `SELECT r.relates_to, r.rel_type, r.event_id FROM event_relations r
		JOIN events e ON e.event_id = r.event_id AND e.redacted_by IS NULL
		WHERE r.relates_to IN (`+placeholders(1, len(parents))+`) AND r.rel_type IN (`+placeholders(len(parents)+1, len(relTypes))+`)
		ORDER BY r.stream_pos`, args...)
	if err != nil {
		return nil, fmt.Errorf("child relations: %w", err)
	}
	defer rows.Close()
	var out []ChildRelation
	for rows.Next() {
		var r ChildRelation
		if err := rows.Scan(&r.RelatesTo, &r.RelType, &r.EventID); err != nil {
			return nil, fmt.Errorf("child relations: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EventIDsAtStream returns the IDs of the events at the given stream positions.
func (c conn) EventIDsAtStream(ctx context.Context, positions []int64) (map[int64]id.EventID, error) {
	out := map[int64]id.EventID{}
	if len(positions) == 0 {
		return out, nil
	}
	args := make([]any, len(positions))
	for i, p := range positions {
		args[i] = p
	}
	rows, err := c.q.Query(ctx, `SELECT stream_pos, event_id FROM events WHERE stream_pos IN (`+placeholders(1, len(positions))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("events at stream positions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pos int64
		var evID id.EventID
		if err := rows.Scan(&pos, &evID); err != nil {
			return nil, fmt.Errorf("events at stream positions: %w", err)
		}
		out[pos] = evID
	}
	return out, rows.Err()
}

// RelationOfEvent returns the relation an event was indexed with; ok is false for an unknown
// event or one that relates to none.
func (c conn) RelationOfEvent(ctx context.Context, eventID id.EventID) (rel Relation, ok bool, err error) {
	err = c.q.QueryRow(ctx, `SELECT relates_to, rel_type FROM event_relations WHERE event_id = $1`, eventID).Scan(&rel.RelatesTo, &rel.RelType)
	if errors.Is(err, ErrNotFound) {
		return Relation{}, false, nil
	}
	return rel, err == nil, err
}
