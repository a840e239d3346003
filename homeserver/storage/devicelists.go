package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// MembershipChange is one m.room.member event, reduced to what device-list tracking needs.
type MembershipChange struct {
	RoomID     id.RoomID
	UserID     id.UserID // the state key: whose membership changed
	Membership string
}

const (
	insertDeviceListChange = `INSERT INTO device_list_changes (stream_pos, user_id, device_id, ts) VALUES ($1, $2, $3, $4)`
	// selectDeviceListChangesOfSharers lists the users with changes in (after, upto] who are
	// the user or share a joined room with them now.
	selectDeviceListChangesOfSharers = `SELECT DISTINCT c.user_id FROM device_list_changes c
		WHERE c.stream_pos > $2 AND c.stream_pos <= $3 AND (c.user_id = $1 OR EXISTS (
			SELECT 1 FROM current_state a JOIN current_state b ON b.room_id = a.room_id
			WHERE a.type = 'm.room.member' AND a.state_key = $1 AND a.membership = 'join'
			AND b.type = 'm.room.member' AND b.state_key = c.user_id AND b.membership = 'join'))
		ORDER BY c.user_id`
	selectMembershipChangesInRoomsOf = `SELECT e.room_id, e.state_key, COALESCE(e.membership, '') FROM events e
		WHERE e.type = 'm.room.member' AND e.stream_pos > $2 AND e.stream_pos <= $3
		AND e.room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1)
		ORDER BY e.stream_pos`
	selectUsersSharingRoom = `SELECT DISTINCT b.state_key FROM current_state a JOIN current_state b ON b.room_id = a.room_id
		WHERE a.type = 'm.room.member' AND a.state_key = $1 AND a.membership = 'join'
		AND b.type = 'm.room.member' AND b.membership = 'join'`
	deleteDeviceListChangesBefore = `DELETE FROM device_list_changes WHERE ts < $1`
)

// AddDeviceListChange records a change of the user's device list or keys at the next
// position of the "device_lists" stream and returns that position. deviceID is "" for a
// change of the user's cross-signing keys. ts is the time of the change (Unix ms). The
// stream's counter stays locked until the transaction commits.
func (tx *Tx) AddDeviceListChange(ctx context.Context, userID id.UserID, deviceID id.DeviceID, ts int64) (int64, error) {
	pos, err := tx.NextCounter(ctx, "device_lists")
	if err != nil {
		return 0, err
	}
	if _, err := tx.q.Exec(ctx, insertDeviceListChange, pos, userID, deviceID, ts); err != nil {
		return 0, fmt.Errorf("record device list change of %s: %w", userID, err)
	}
	return pos, nil
}

// DeviceListChangesInRange lists, ordered, the users whose device lists changed in (after, upto].
func (c conn) DeviceListChangesInRange(ctx context.Context, after, upto int64) ([]id.UserID, error) {
	users, err := queryList[id.UserID](ctx, c.q, `SELECT DISTINCT user_id FROM device_list_changes
		WHERE stream_pos > $1 AND stream_pos <= $2 ORDER BY user_id`, after, upto)
	if err != nil {
		return nil, fmt.Errorf("device list changes: %w", err)
	}
	return users, nil
}

// DeviceListChangesOfSharers lists, ordered, the users whose device lists changed in
// (after, upto] and who are userID or share a joined room with them now.
func (c conn) DeviceListChangesOfSharers(ctx context.Context, userID id.UserID, after, upto int64) ([]id.UserID, error) {
	users, err := queryList[id.UserID](ctx, c.q, selectDeviceListChangesOfSharers, userID, after, upto)
	if err != nil {
		return nil, fmt.Errorf("device list changes for %s: %w", userID, err)
	}
	return users, nil
}

// MembershipChangesInRoomsOf returns the membership events in (after, upto] of every room
// the user has a membership in, oldest first.
func (c conn) MembershipChangesInRoomsOf(ctx context.Context, userID id.UserID, after, upto int64) ([]MembershipChange, error) {
	rows, err := c.q.Query(ctx, selectMembershipChangesInRoomsOf, userID, after, upto)
	if err != nil {
		return nil, fmt.Errorf("membership changes in rooms of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []MembershipChange
	for rows.Next() {
		var m MembershipChange
		if err := rows.Scan(&m.RoomID, &m.UserID, &m.Membership); err != nil {
			return nil, fmt.Errorf("membership changes in rooms of %s: %w", userID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UsersSharingRoomWith returns every user who shares a joined room with userID now,
// userID included when they are in any room.
func (c conn) UsersSharingRoomWith(ctx context.Context, userID id.UserID) (map[id.UserID]bool, error) {
	users, err := queryList[id.UserID](ctx, c.q, selectUsersSharingRoom, userID)
	if err != nil {
		return nil, fmt.Errorf("users sharing a room with %s: %w", userID, err)
	}
	out := make(map[id.UserID]bool, len(users))
	for _, u := range users {
		out[u] = true
	}
	return out, nil
}

// DeleteDeviceListChangesBefore deletes the device-list changes recorded before ts (Unix
// ms) and reports how many. A sync token from before ts no longer sees them.
func (c conn) DeleteDeviceListChangesBefore(ctx context.Context, ts int64) (int64, error) {
	n, err := c.q.Exec(ctx, deleteDeviceListChangesBefore, ts)
	if err != nil {
		return 0, fmt.Errorf("purge device list changes: %w", err)
	}
	return n, nil
}
