package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"
)

// Event is one stored PDU with the columns the server indexes it by.
type Event struct {
	ID             id.EventID
	RoomID         id.RoomID
	StreamPos      int64
	Depth          int64
	Type           string
	StateKey       *string
	Sender         id.UserID
	Membership     string // content.membership of m.room.member events
	OriginServerTS int64
	StateBefore    SnapshotID
	ReplacesState  id.EventID // the state event this one replaced, if any
	TxnDevice      id.DeviceID
	TxnID          string
	RedactedBy     id.EventID // the redaction applied to this event, if any
	PDU            []byte     // the event exactly as signed
}

// IsState reports whether the event is a state event.
func (e *Event) IsState() bool { return e.StateKey != nil }

// TopoPos is an event's position in its room's topological order: by depth, then stream order.
type TopoPos struct {
	Depth     int64
	StreamPos int64
}

const eventColumns = `event_id, room_id, stream_pos, depth, type, state_key, sender, COALESCE(membership, ''),
	origin_server_ts, state_before, COALESCE(replaces_state, ''), COALESCE(txn_device, ''), COALESCE(txn_id, ''),
	COALESCE(redacted_by, ''), pdu`

const (
	insertEvent = `INSERT INTO events (event_id, room_id, stream_pos, depth, type, state_key, sender, membership,
		origin_server_ts, state_before, replaces_state, txn_device, txn_id, pdu)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	selectEvent         = `SELECT ` + eventColumns + ` FROM events WHERE event_id = $1`
	updateEventRedacted = `UPDATE events SET redacted_by = $2 WHERE event_id = $1 AND redacted_by IS NULL`
	// Stream ranges are (after, upto]; newest first so LIMIT keeps the latest events.
	selectRoomEventsRange = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos DESC LIMIT $4`
	selectRoomStateEventsRange = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3 AND state_key IS NOT NULL ORDER BY stream_pos`
	selectRoomEventsBefore = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND (depth, stream_pos) < ($2, $3) ORDER BY depth DESC, stream_pos DESC LIMIT $4`
	selectRoomEventsFrom = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND (depth, stream_pos) >= ($2, $3) ORDER BY depth, stream_pos LIMIT $4`
	selectRoomEventsAfter = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos LIMIT $4`
	selectRoomEventsAtOrAfterTS = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND origin_server_ts >= $2 ORDER BY origin_server_ts, stream_pos LIMIT $3`
	selectRoomEventsAtOrBeforeTS = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND origin_server_ts <= $2 ORDER BY origin_server_ts DESC, stream_pos DESC LIMIT $3`
	selectTopoAtStream = `SELECT depth, stream_pos FROM events WHERE room_id = $1 AND stream_pos <= $2
		ORDER BY depth DESC, stream_pos DESC LIMIT 1`
	selectRoomsWithEvents   = `SELECT room_id, MAX(stream_pos) FROM events WHERE stream_pos > $1 AND stream_pos <= $2 GROUP BY room_id`
	selectMembershipChanges = `SELECT ` + eventColumns + ` FROM events
		WHERE type = 'm.room.member' AND state_key = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos`

	selectExtremities = `SELECT event_id FROM forward_extremities WHERE room_id = $1 ORDER BY event_id`
	deleteExtremity   = `DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = $2`
	insertExtremity   = `INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`

	insertTxnID = `INSERT INTO transaction_ids (user_id, device_id, txn_id, event_id, created_ts) VALUES ($1, $2, $3, $4, $5)`
	selectTxnID = `SELECT event_id FROM transaction_ids WHERE user_id = $1 AND device_id = $2 AND txn_id = $3`
)

func scanEvent(row Row) (*Event, error) {
	var e Event
	err := row.Scan(&e.ID, &e.RoomID, &e.StreamPos, &e.Depth, &e.Type, &e.StateKey, &e.Sender, &e.Membership,
		&e.OriginServerTS, &e.StateBefore, &e.ReplacesState, &e.TxnDevice, &e.TxnID, &e.RedactedBy, &e.PDU)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func (c conn) queryEvents(ctx context.Context, query string, args ...any) ([]*Event, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// InsertEvent stores an event, indexes its relation if it has one (event_relations) and its
// searchable text if it has any (event_search). The caller holds the room (LockRoom) and has
// taken the stream position from NextCounter in the same transaction.
func (c conn) InsertEvent(ctx context.Context, e *Event) error {
	_, err := c.q.Exec(ctx, insertEvent, e.ID, e.RoomID, e.StreamPos, e.Depth, e.Type, e.StateKey, e.Sender,
		nullIfEmpty(e.Membership), e.OriginServerTS, e.StateBefore, nullIfEmpty(e.ReplacesState),
		nullIfEmpty(e.TxnDevice), nullIfEmpty(e.TxnID), e.PDU)
	if err != nil {
		return fmt.Errorf("insert event %s: %w", e.ID, err)
	}
	if err := c.insertRelation(ctx, e); err != nil {
		return err
	}
	return c.indexSearch(ctx, e)
}

// EventByID returns one event, or ErrNotFound.
func (c conn) EventByID(ctx context.Context, eventID id.EventID) (*Event, error) {
	e, err := scanEvent(c.q.QueryRow(ctx, selectEvent, eventID))
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", eventID, err)
	}
	return e, nil
}

// EventsByIDs returns the events that exist among ids, in no particular order.
func (c conn) EventsByIDs(ctx context.Context, ids []id.EventID) ([]*Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, evID := range ids {
		args[i] = evID
	}
	return c.queryEvents(ctx, `SELECT `+eventColumns+` FROM events WHERE event_id IN (`+placeholders(1, len(ids))+`)`, args...)
}

// placeholders returns "$from, $from+1, ..." for n arguments.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// MarkRedacted records that redactionID redacts eventID, and takes the event out of the
// search index. An already-redacted event keeps its first redaction.
func (c conn) MarkRedacted(ctx context.Context, eventID, redactionID id.EventID) error {
	if _, err := c.q.Exec(ctx, updateEventRedacted, eventID, redactionID); err != nil {
		return err
	}
	return c.unindexSearch(ctx, eventID)
}

// RoomEventsInRange returns up to limit of the newest events of a room with stream positions in
// (after, upto], newest first.
func (c conn) RoomEventsInRange(ctx context.Context, roomID id.RoomID, after, upto int64, limit int) ([]*Event, error) {
	return c.queryEvents(ctx, selectRoomEventsRange, roomID, after, upto, limit)
}

// RoomStateEventsInRange returns the state events of a room in (after, upto], oldest first.
func (c conn) RoomStateEventsInRange(ctx context.Context, roomID id.RoomID, after, upto int64) ([]*Event, error) {
	return c.queryEvents(ctx, selectRoomStateEventsRange, roomID, after, upto)
}

// RoomEventsBefore returns up to limit events topologically before pos, newest first.
func (c conn) RoomEventsBefore(ctx context.Context, roomID id.RoomID, pos TopoPos, limit int) ([]*Event, error) {
	return c.queryEvents(ctx, selectRoomEventsBefore, roomID, pos.Depth, pos.StreamPos, limit)
}

// RoomEventsAfter returns up to limit events of a room in (after, upto], oldest first.
func (c conn) RoomEventsAfter(ctx context.Context, roomID id.RoomID, after, upto int64, limit int) ([]*Event, error) {
	return c.queryEvents(ctx, selectRoomEventsAfter, roomID, after, upto, limit)
}

// RoomEventsNearTS returns up to limit events of a room closest to the time ts (Unix ms) in
// one direction: at or after it, earliest first (forward), or at or before it, latest first.
func (c conn) RoomEventsNearTS(ctx context.Context, roomID id.RoomID, ts int64, forward bool, limit int) ([]*Event, error) {
	query := selectRoomEventsAtOrBeforeTS
	if forward {
		query = selectRoomEventsAtOrAfterTS
	}
	return c.queryEvents(ctx, query, roomID, ts, limit)
}

// RoomEventsFrom returns up to limit events at or topologically after pos, oldest first.
func (c conn) RoomEventsFrom(ctx context.Context, roomID id.RoomID, pos TopoPos, limit int) ([]*Event, error) {
	return c.queryEvents(ctx, selectRoomEventsFrom, roomID, pos.Depth, pos.StreamPos, limit)
}

// TopoPosAtStream returns the topological position of the last room event at or before a
// stream position, or ErrNotFound when the room has none.
func (c conn) TopoPosAtStream(ctx context.Context, roomID id.RoomID, streamPos int64) (TopoPos, error) {
	var p TopoPos
	if err := c.q.QueryRow(ctx, selectTopoAtStream, roomID, streamPos).Scan(&p.Depth, &p.StreamPos); err != nil {
		return TopoPos{}, fmt.Errorf("topological position: %w", err)
	}
	return p, nil
}

// RoomsWithEventsInRange maps each room with events in (after, upto] to its newest position.
func (c conn) RoomsWithEventsInRange(ctx context.Context, after, upto int64) (map[id.RoomID]int64, error) {
	rows, err := c.q.Query(ctx, selectRoomsWithEvents, after, upto)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[id.RoomID]int64{}
	for rows.Next() {
		var roomID id.RoomID
		var pos int64
		if err := rows.Scan(&roomID, &pos); err != nil {
			return nil, err
		}
		out[roomID] = pos
	}
	return out, rows.Err()
}

// MembershipChanges returns the m.room.member events about userID in (after, upto], oldest first.
func (c conn) MembershipChanges(ctx context.Context, userID id.UserID, after, upto int64) ([]*Event, error) {
	return c.queryEvents(ctx, selectMembershipChanges, userID, after, upto)
}

// ForwardExtremities lists the room's events that no event references yet.
func (c conn) ForwardExtremities(ctx context.Context, roomID id.RoomID) ([]id.EventID, error) {
	return queryList[id.EventID](ctx, c.q, selectExtremities, roomID)
}

// AdvanceExtremities makes newEvent a forward extremity in place of the events it references.
func (c conn) AdvanceExtremities(ctx context.Context, roomID id.RoomID, prevEvents []id.EventID, newEvent id.EventID) error {
	for _, prev := range prevEvents {
		if _, err := c.q.Exec(ctx, deleteExtremity, roomID, prev); err != nil {
			return err
		}
	}
	_, err := c.q.Exec(ctx, insertExtremity, roomID, newEvent)
	return err
}

// InsertTxnID records the event a device's transaction ID produced.
func (c conn) InsertTxnID(ctx context.Context, userID id.UserID, deviceID id.DeviceID, txnID string, eventID id.EventID, ts int64) error {
	_, err := c.q.Exec(ctx, insertTxnID, userID, deviceID, txnID, eventID, ts)
	return err
}

// EventIDForTxn returns the event a device's transaction ID produced, or ErrNotFound.
func (c conn) EventIDForTxn(ctx context.Context, userID id.UserID, deviceID id.DeviceID, txnID string) (id.EventID, error) {
	var evID id.EventID
	if err := c.q.QueryRow(ctx, selectTxnID, userID, deviceID, txnID).Scan(&evID); err != nil {
		return "", fmt.Errorf("txn %s: %w", txnID, err)
	}
	return evID, nil
}

const selectEventsRange = `SELECT ` + eventColumns + ` FROM events
	WHERE stream_pos > $1 AND stream_pos <= $2 ORDER BY stream_pos LIMIT $3`

// EventsInRange returns up to limit events of all rooms in (after, upto], oldest first.
func (c conn) EventsInRange(ctx context.Context, after, upto int64, limit int) ([]*Event, error) {
	return c.queryEvents(ctx, selectEventsRange, after, upto, limit)
}
