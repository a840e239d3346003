package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// SnapshotID names a stored room state snapshot. 0 is the empty state.
type SnapshotID int64

// StateKey is the (type, state_key) pair that identifies a piece of room state.
type StateKey struct {
	Type     string
	StateKey string
}

// StateEntry is one entry of a snapshot delta. An empty EventID removes the key.
type StateEntry struct {
	StateKey
	EventID id.EventID
}

// Snapshot is one stored room state, kept as a delta against its base snapshot.
type Snapshot struct {
	ID       SnapshotID
	RoomID   id.RoomID
	ParentID SnapshotID // the snapshot this state was derived from
	BaseID   SnapshotID // the ancestor the delta is taken against
	Seq      int64      // position along the parent chain; the empty state is 0
}

// CurrentStateEntry is one row of a room's current state.
type CurrentStateEntry struct {
	StateKey
	EventID    id.EventID
	Membership string
	StreamPos  int64
}

const (
	insertSnapshot      = `INSERT INTO state_snapshots (snapshot_id, room_id, parent_id, base_id, seq, created_ts) VALUES ($1, $2, $3, $4, $5, $6)`
	insertSnapshotEntry = `INSERT INTO state_snapshot_entries (snapshot_id, type, state_key, event_id) VALUES ($1, $2, $3, $4)`
	selectSnapshot      = `SELECT snapshot_id, room_id, parent_id, base_id, seq FROM state_snapshots WHERE snapshot_id = $1`

	upsertCurrentState = `INSERT INTO current_state (room_id, type, state_key, event_id, membership, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id,
			membership = excluded.membership, stream_pos = excluded.stream_pos`
	selectCurrentStateEvent = `SELECT event_id FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3`
	selectCurrentState      = `SELECT type, state_key, event_id, COALESCE(membership, ''), stream_pos FROM current_state WHERE room_id = $1`
	selectRoomMembers       = `SELECT state_key FROM current_state WHERE room_id = $1 AND type = 'm.room.member' AND membership = $2 ORDER BY state_key`
	selectRoomsOfUser       = `SELECT room_id, membership FROM current_state WHERE type = 'm.room.member' AND state_key = $1`
)

// NextSnapshotID hands out a new snapshot ID.
func (tx *Tx) NextSnapshotID(ctx context.Context) (SnapshotID, error) {
	if tx.dialect == SQLite {
		v, err := tx.NextCounter(ctx, "state_snapshots")
		return SnapshotID(v), err
	}
	var v int64
	if err := tx.q.QueryRow(ctx, `SELECT nextval('state_snapshot_ids')`).Scan(&v); err != nil {
		return 0, fmt.Errorf("next snapshot ID: %w", err)
	}
	return SnapshotID(v), nil
}

// InsertSnapshot stores a snapshot and its delta entries.
func (c conn) InsertSnapshot(ctx context.Context, s Snapshot, delta []StateEntry, createdTS int64) error {
	if _, err := c.q.Exec(ctx, insertSnapshot, s.ID, s.RoomID, s.ParentID, s.BaseID, s.Seq, createdTS); err != nil {
		return fmt.Errorf("insert snapshot %d: %w", s.ID, err)
	}
	for _, e := range delta {
		if _, err := c.q.Exec(ctx, insertSnapshotEntry, s.ID, e.Type, e.StateKey.StateKey, nullIfEmpty(e.EventID)); err != nil {
			return fmt.Errorf("insert snapshot %d entry: %w", s.ID, err)
		}
	}
	return nil
}

// SnapshotByID returns a snapshot's header, or ErrNotFound.
func (c conn) SnapshotByID(ctx context.Context, snapID SnapshotID) (Snapshot, error) {
	var s Snapshot
	if err := c.q.QueryRow(ctx, selectSnapshot, snapID).Scan(&s.ID, &s.RoomID, &s.ParentID, &s.BaseID, &s.Seq); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %d: %w", snapID, err)
	}
	return s, nil
}

// SnapshotDeltas returns the delta entries of each listed snapshot.
func (c conn) SnapshotDeltas(ctx context.Context, ids []SnapshotID) (map[SnapshotID][]StateEntry, error) {
	out := make(map[SnapshotID][]StateEntry, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, v := range ids {
		args[i] = v
	}
	rows, err := c.q.Query(ctx, `SELECT snapshot_id, type, state_key, COALESCE(event_id, '') FROM state_snapshot_entries
		WHERE snapshot_id IN (`+placeholders(1, len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var snap SnapshotID
		var e StateEntry
		if err := rows.Scan(&snap, &e.Type, &e.StateKey.StateKey, &e.EventID); err != nil {
			return nil, err
		}
		out[snap] = append(out[snap], e)
	}
	return out, rows.Err()
}

// SetCurrentState makes eventID the room's current state for its key.
func (c conn) SetCurrentState(ctx context.Context, roomID id.RoomID, key StateKey, eventID id.EventID, membership string, streamPos int64) error {
	_, err := c.q.Exec(ctx, upsertCurrentState, roomID, key.Type, key.StateKey, eventID, nullIfEmpty(membership), streamPos)
	if err != nil {
		return fmt.Errorf("set current state: %w", err)
	}
	return nil
}

// CurrentStateEvent returns the event ID holding the room's current state for key, or ErrNotFound.
func (c conn) CurrentStateEvent(ctx context.Context, roomID id.RoomID, key StateKey) (id.EventID, error) {
	var evID id.EventID
	if err := c.q.QueryRow(ctx, selectCurrentStateEvent, roomID, key.Type, key.StateKey).Scan(&evID); err != nil {
		return "", fmt.Errorf("current state %s/%s: %w", key.Type, key.StateKey, err)
	}
	return evID, nil
}

// CurrentState returns every entry of the room's current state.
func (c conn) CurrentState(ctx context.Context, roomID id.RoomID) ([]CurrentStateEntry, error) {
	rows, err := c.q.Query(ctx, selectCurrentState, roomID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CurrentStateEntry
	for rows.Next() {
		var e CurrentStateEntry
		if err := rows.Scan(&e.Type, &e.StateKey.StateKey, &e.EventID, &e.Membership, &e.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RoomMembers lists the users whose current membership in the room is membership.
func (c conn) RoomMembers(ctx context.Context, roomID id.RoomID, membership string) ([]id.UserID, error) {
	return queryList[id.UserID](ctx, c.q, selectRoomMembers, roomID, membership)
}

// RoomsOfUser maps every room the user has a membership event in to that current membership.
func (c conn) RoomsOfUser(ctx context.Context, userID id.UserID) (map[id.RoomID]string, error) {
	rows, err := c.q.Query(ctx, selectRoomsOfUser, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[id.RoomID]string{}
	for rows.Next() {
		var roomID id.RoomID
		var m string
		if err := rows.Scan(&roomID, &m); err != nil {
			return nil, err
		}
		out[roomID] = m
	}
	return out, rows.Err()
}

const selectSnapshotChain = `WITH RECURSIVE chain (snapshot_id, room_id, parent_id, base_id, seq) AS (
		SELECT snapshot_id, room_id, parent_id, base_id, seq FROM state_snapshots WHERE snapshot_id = $1
		UNION ALL
		SELECT s.snapshot_id, s.room_id, s.parent_id, s.base_id, s.seq FROM state_snapshots s JOIN chain c ON s.snapshot_id = c.base_id
	)
	SELECT snapshot_id, room_id, parent_id, base_id, seq FROM chain ORDER BY seq DESC`

// SnapshotChain returns the snapshot and its base, its base's base and so on, newest first.
// Applying their deltas oldest first rebuilds the snapshot's full state.
func (c conn) SnapshotChain(ctx context.Context, snapID SnapshotID) ([]Snapshot, error) {
	if snapID == 0 {
		return nil, nil
	}
	rows, err := c.q.Query(ctx, selectSnapshotChain, snapID)
	if err != nil {
		return nil, fmt.Errorf("snapshot chain %d: %w", snapID, err)
	}
	defer rows.Close()
	var out []Snapshot
	for rows.Next() {
		var s Snapshot
		if err := rows.Scan(&s.ID, &s.RoomID, &s.ParentID, &s.BaseID, &s.Seq); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("snapshot %d: %w", snapID, ErrNotFound)
	}
	return out, nil
}

// SnapshotEntryCount returns how many delta entries all state snapshots hold together, the
// measure of how much room state storage costs.
func (c conn) SnapshotEntryCount(ctx context.Context) (int64, error) {
	var n int64
	err := c.q.QueryRow(ctx, `SELECT COUNT(*) FROM state_snapshot_entries`).Scan(&n)
	return n, err
}
