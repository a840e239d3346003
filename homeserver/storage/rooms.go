package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Room is one room this server takes part in.
type Room struct {
	ID            id.RoomID
	Version       id.RoomVersion
	Creator       id.UserID
	IsPublic      bool
	StateSnapshot SnapshotID // the room's current state
	CreatedTS     int64
}

const (
	insertRoom = `INSERT INTO rooms (room_id, room_version, creator, is_public, created_ts) VALUES ($1, $2, $3, $4, $5)`
	selectRoom = `SELECT room_id, room_version, creator, is_public, state_snapshot, created_ts FROM rooms WHERE room_id = $1`
	// Locking the room row serialises event creation per room across instances on PostgreSQL;
	// SQLite's single writer already serialises every write transaction.
	selectRoomForUpdate = selectRoom + ` FOR UPDATE`
	updateRoomSnapshot  = `UPDATE rooms SET state_snapshot = $2 WHERE room_id = $1`
	updateRoomPublic    = `UPDATE rooms SET is_public = $2 WHERE room_id = $1`

	insertAlias   = `INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)`
	selectAlias   = `SELECT room_id, creator FROM room_aliases WHERE alias = $1`
	deleteAlias   = `DELETE FROM room_aliases WHERE alias = $1`
	selectAliases = `SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias`

	insertForgotten = `INSERT INTO forgotten_rooms (user_id, room_id, created_ts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	deleteForgotten = `DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2`
	selectForgotten = `SELECT room_id FROM forgotten_rooms WHERE user_id = $1`
)

// InsertRoom records a new room; ErrConflict if the ID is taken.
func (c conn) InsertRoom(ctx context.Context, r Room) error {
	if _, err := c.q.Exec(ctx, insertRoom, r.ID, r.Version, r.Creator, r.IsPublic, r.CreatedTS); err != nil {
		return fmt.Errorf("insert room %s: %w", r.ID, err)
	}
	return nil
}

func scanRoom(row Row) (Room, error) {
	var r Room
	err := row.Scan(&r.ID, &r.Version, &r.Creator, &r.IsPublic, &r.StateSnapshot, &r.CreatedTS)
	return r, err
}

// RoomByID returns a room, or ErrNotFound.
func (c conn) RoomByID(ctx context.Context, roomID id.RoomID) (Room, error) {
	r, err := scanRoom(c.q.QueryRow(ctx, selectRoom, roomID))
	if err != nil {
		return Room{}, fmt.Errorf("room %s: %w", roomID, err)
	}
	return r, nil
}

// LockRoom returns the room and holds it until the transaction ends, so that no other
// transaction adds events to it meanwhile.
func (tx *Tx) LockRoom(ctx context.Context, roomID id.RoomID) (Room, error) {
	query := selectRoom
	if tx.dialect == Postgres {
		query = selectRoomForUpdate
	}
	r, err := scanRoom(tx.q.QueryRow(ctx, query, roomID))
	if err != nil {
		return Room{}, fmt.Errorf("lock room %s: %w", roomID, err)
	}
	return r, nil
}

// UpdateRoomSnapshot points the room's current state at a snapshot.
func (c conn) UpdateRoomSnapshot(ctx context.Context, roomID id.RoomID, snap SnapshotID) error {
	return c.expectOne(ctx, "update room snapshot", updateRoomSnapshot, roomID, snap)
}

// SetRoomPublic lists or unlists the room in the public room directory.
func (c conn) SetRoomPublic(ctx context.Context, roomID id.RoomID, public bool) error {
	return c.expectOne(ctx, "set room visibility", updateRoomPublic, roomID, public)
}

// InsertAlias maps an alias to a room; ErrConflict if the alias is taken.
func (c conn) InsertAlias(ctx context.Context, alias id.RoomAlias, roomID id.RoomID, creator id.UserID, ts int64) error {
	if _, err := c.q.Exec(ctx, insertAlias, alias, roomID, creator, ts); err != nil {
		return fmt.Errorf("insert alias %s: %w", alias, err)
	}
	return nil
}

// AliasByName resolves an alias to its room and creator, or returns ErrNotFound.
func (c conn) AliasByName(ctx context.Context, alias id.RoomAlias) (id.RoomID, id.UserID, error) {
	var roomID id.RoomID
	var creator id.UserID
	if err := c.q.QueryRow(ctx, selectAlias, alias).Scan(&roomID, &creator); err != nil {
		return "", "", fmt.Errorf("alias %s: %w", alias, err)
	}
	return roomID, creator, nil
}

// DeleteAlias removes an alias; ErrNotFound if it did not exist.
func (c conn) DeleteAlias(ctx context.Context, alias id.RoomAlias) error {
	return c.expectOne(ctx, "delete alias", deleteAlias, alias)
}

// AliasesOfRoom lists the local aliases pointing at a room.
func (c conn) AliasesOfRoom(ctx context.Context, roomID id.RoomID) ([]id.RoomAlias, error) {
	return queryList[id.RoomAlias](ctx, c.q, selectAliases, roomID)
}

// ForgetRoom hides a left room from the user's /sync; RememberRoom undoes it on rejoin.
func (c conn) ForgetRoom(ctx context.Context, userID id.UserID, roomID id.RoomID, ts int64) error {
	_, err := c.q.Exec(ctx, insertForgotten, userID, roomID, ts)
	return err
}

// RememberRoom clears a forgotten mark, used when the user joins the room again.
func (c conn) RememberRoom(ctx context.Context, userID id.UserID, roomID id.RoomID) error {
	_, err := c.q.Exec(ctx, deleteForgotten, userID, roomID)
	return err
}

// ForgottenRooms lists the rooms the user has forgotten.
func (c conn) ForgottenRooms(ctx context.Context, userID id.UserID) ([]id.RoomID, error) {
	return queryList[id.RoomID](ctx, c.q, selectForgotten, userID)
}

// queryList runs a query returning one column and collects it.
func queryList[T any](ctx context.Context, q Querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// MoveAliases points every alias of one room at another.
func (c conn) MoveAliases(ctx context.Context, from, to id.RoomID) error {
	if _, err := c.q.Exec(ctx, `UPDATE room_aliases SET room_id = $2 WHERE room_id = $1`, from, to); err != nil {
		return fmt.Errorf("move aliases: %w", err)
	}
	return nil
}
