package storage

import (
	"context"
	"fmt"
	"strconv"

	"maunium.net/go/mautrix/id"
)

// DirectoryScope selects the rooms a published room directory listing covers
// (data/api/client-server/list_public_rooms.yaml). The zero value is the server's own directory.
type DirectoryScope struct {
	// AllNetworks adds the rooms every appservice lists under its networks.
	AllNetworks bool
	// InstanceID, when set, lists only the rooms of that appservice network instead.
	InstanceID string
}

// DirectoryKey is a room's place in the directory's order: most joined members first, then by
// room ID.
type DirectoryKey struct {
	JoinedMembers int64
	RoomID        id.RoomID
}

// DirectoryRoom is one published room, in directory order.
type DirectoryRoom struct {
	DirectoryKey
	Version id.RoomVersion
}

// NetworkListing is a room listed in an appservice's directory under one of its networks.
type NetworkListing struct {
	InstanceID   string // "<appservice id>|<network id>"
	AppserviceID string
	NetworkID    string
	RoomID       id.RoomID
	CreatedTS    int64
}

const (
	insertNetworkListing = `INSERT INTO room_directory_networks (instance_id, room_id, appservice_id, network_id, created_ts)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
	deleteNetworkListing = `DELETE FROM room_directory_networks WHERE instance_id = $1 AND room_id = $2`

	// The joined member count is counted per published room from current_state's primary key
	// (room_id, type, state_key) rather than kept in a column: event persistence stays
	// untouched, and a directory holds few rooms compared to the whole server.
	selectDirectoryRooms = `SELECT room_id, room_version, joined FROM (
		SELECT r.room_id, r.room_version, (SELECT COUNT(*) FROM current_state cs
			WHERE cs.room_id = r.room_id AND cs.type = 'm.room.member' AND cs.membership = 'join') AS joined
		FROM rooms r WHERE %s) d`
	countDirectoryRooms = `SELECT COUNT(*) FROM rooms r WHERE %s`
)

// ListRoomInNetwork adds a room to an appservice network's directory; listing it again changes
// nothing.
func (c conn) ListRoomInNetwork(ctx context.Context, l NetworkListing) error {
	if _, err := c.q.Exec(ctx, insertNetworkListing, l.InstanceID, l.RoomID, l.AppserviceID, l.NetworkID, l.CreatedTS); err != nil {
		return fmt.Errorf("list %s in %s: %w", l.RoomID, l.InstanceID, err)
	}
	return nil
}

// UnlistRoomFromNetwork removes a room from an appservice network's directory; a room that was
// not listed is no error.
func (c conn) UnlistRoomFromNetwork(ctx context.Context, instanceID string, roomID id.RoomID) error {
	if _, err := c.q.Exec(ctx, deleteNetworkListing, instanceID, roomID); err != nil {
		return fmt.Errorf("unlist %s from %s: %w", roomID, instanceID, err)
	}
	return nil
}

// scopeCondition returns the WHERE condition on rooms r for scope, appending its arguments.
func scopeCondition(scope DirectoryScope, args *[]any) string {
	switch {
	case scope.InstanceID != "":
		*args = append(*args, scope.InstanceID)
		return `r.room_id IN (SELECT room_id FROM room_directory_networks WHERE instance_id = $` + strconv.Itoa(len(*args)) + `)`
	case scope.AllNetworks:
		return `(r.is_public OR r.room_id IN (SELECT room_id FROM room_directory_networks))`
	default:
		return `r.is_public`
	}
}

// DirectoryRooms returns up to limit rooms (all of them for limit 0) of the directory scope in
// directory order, starting after from (from the start when from is nil). backward walks the
// order in reverse instead, from the rooms just before from (from the end when from is nil),
// closest first.
func (c conn) DirectoryRooms(ctx context.Context, scope DirectoryScope, from *DirectoryKey, backward bool, limit int) ([]DirectoryRoom, error) {
	var args []any
	query := fmt.Sprintf(selectDirectoryRooms, scopeCondition(scope, &args))
	if from != nil {
		args = append(args, from.JoinedMembers, from.RoomID)
		n, rid := "$"+strconv.Itoa(len(args)-1), "$"+strconv.Itoa(len(args))
		if backward {
			query += ` WHERE joined > ` + n + ` OR (joined = ` + n + ` AND room_id < ` + rid + `)`
		} else {
			query += ` WHERE joined < ` + n + ` OR (joined = ` + n + ` AND room_id > ` + rid + `)`
		}
	}
	if backward {
		query += ` ORDER BY joined, room_id DESC`
	} else {
		query += ` ORDER BY joined DESC, room_id`
	}
	if limit > 0 {
		args = append(args, limit)
		query += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("directory rooms: %w", err)
	}
	defer rows.Close()
	var out []DirectoryRoom
	for rows.Next() {
		var d DirectoryRoom
		if err := rows.Scan(&d.RoomID, &d.Version, &d.JoinedMembers); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CountDirectoryRooms counts the rooms of the directory scope.
func (c conn) CountDirectoryRooms(ctx context.Context, scope DirectoryScope) (int64, error) {
	var args []any
	var n int64
	if err := c.q.QueryRow(ctx, fmt.Sprintf(countDirectoryRooms, scopeCondition(scope, &args)), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count directory rooms: %w", err)
	}
	return n, nil
}

// CurrentStateOfRooms returns, in one query, the current state events with an empty state key
// and one of the given types of every listed room: what summaries of many rooms are made of.
func (c conn) CurrentStateOfRooms(ctx context.Context, roomIDs []id.RoomID, types []string) ([]*Event, error) {
	if len(roomIDs) == 0 || len(types) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(roomIDs)+len(types))
	for _, roomID := range roomIDs {
		args = append(args, roomID)
	}
	for _, t := range types {
		args = append(args, t)
	}
	return c.queryEvents(ctx, `SELECT `+eventColumns+` FROM events WHERE event_id IN (
		SELECT event_id FROM current_state WHERE room_id IN (`+placeholders(1, len(roomIDs))+`)
			AND type IN (`+placeholders(len(roomIDs)+1, len(types))+`) AND state_key = '')`, args...)
}

// RoomsForSummary returns, for the rooms of roomIDs this server knows, their version and
// joined member count, in no particular order: what summaries outside the directory are made
// of (the space hierarchy).
func (c conn) RoomsForSummary(ctx context.Context, roomIDs []id.RoomID) ([]DirectoryRoom, error) {
	if len(roomIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(roomIDs))
	for i, r := range roomIDs {
		args[i] = r
	}
	rows, err := c.q.Query(ctx, `SELECT r.room_id, r.room_version,
		(SELECT COUNT(*) FROM current_state m WHERE m.room_id = r.room_id AND m.type = 'm.room.member' AND m.membership = 'join')
		FROM rooms r WHERE r.room_id IN (`+placeholders(1, len(roomIDs))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("rooms for summary: %w", err)
	}
	defer rows.Close()
	var out []DirectoryRoom
	for rows.Next() {
		var d DirectoryRoom
		if err := rows.Scan(&d.RoomID, &d.Version, &d.JoinedMembers); err != nil {
			return nil, fmt.Errorf("rooms for summary: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CurrentStateOfType returns the current state events of one type in a room, every state key.
func (c conn) CurrentStateOfType(ctx context.Context, roomID id.RoomID, typ string) ([]*Event, error) {
	return c.queryEvents(ctx, `SELECT `+eventColumns+` FROM events WHERE event_id IN (
		SELECT event_id FROM current_state WHERE room_id = $1 AND type = $2)`, roomID, typ)
}
