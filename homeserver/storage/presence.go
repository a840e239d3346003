package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Presence is the presence the server publishes for a local user.
type Presence struct {
	UserID          id.UserID
	State           string // online, unavailable or offline
	StatusMsg       string // "" for none
	LastActiveTS    int64  // Unix ms; 0 for never
	CurrentlyActive bool
	StreamPos       int64 // from the "presence" counter
}

const presenceColumns = `p.user_id, p.state, p.status_msg, p.last_active_ts, p.currently_active, p.stream_pos`

// sharesRoomWith holds for a presence row p whose user shares a joined room with the user $1,
// or is that user.
const sharesRoomWith = `(p.user_id = $1 OR EXISTS (SELECT 1 FROM current_state a
		JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.state_key = p.user_id AND b.membership = 'join'
		WHERE a.type = 'm.room.member' AND a.state_key = $1 AND a.membership = 'join'))`

const (
	upsertPresence = `INSERT INTO presence (user_id, state, status_msg, last_active_ts, currently_active, stream_pos, updated_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, status_msg = excluded.status_msg,
		last_active_ts = excluded.last_active_ts, currently_active = excluded.currently_active,
		stream_pos = excluded.stream_pos, updated_ts = excluded.updated_ts`
	selectPresence        = `SELECT ` + presenceColumns + ` FROM presence p WHERE p.user_id = $1`
	selectPresenceInRange = `SELECT ` + presenceColumns + ` FROM presence p
		WHERE p.stream_pos > $2 AND p.stream_pos <= $3 AND ` + sharesRoomWith + ` ORDER BY p.stream_pos`
	selectPresenceOfRoommates = `SELECT ` + presenceColumns + ` FROM presence p
		WHERE p.stream_pos <= $2 AND p.state <> 'offline' AND ` + sharesRoomWith + ` ORDER BY p.stream_pos`
	selectPresenceNotOffline = `SELECT ` + presenceColumns + ` FROM presence p WHERE p.state <> 'offline'`
)

// PutPresence publishes p. The caller has taken p.StreamPos from NextCounter("presence") in
// the same transaction; ts is the time of the change (Unix ms).
func (tx *Tx) PutPresence(ctx context.Context, p Presence, ts int64) error {
	if _, err := tx.q.Exec(ctx, upsertPresence, p.UserID, p.State, p.StatusMsg, p.LastActiveTS, p.CurrentlyActive, p.StreamPos, ts); err != nil {
		return fmt.Errorf("put presence of %s: %w", p.UserID, err)
	}
	return nil
}

// PresenceOf returns a user's published presence, or ErrNotFound when none was ever published.
func (c conn) PresenceOf(ctx context.Context, userID id.UserID) (Presence, error) {
	p, err := scanPresence(c.q.QueryRow(ctx, selectPresence, userID))
	if err != nil {
		return Presence{}, fmt.Errorf("presence of %s: %w", userID, err)
	}
	return p, nil
}

// PresenceInRange returns the presence published in (after, upto] of viewer and of the users
// who share a joined room with viewer, in the order it was published.
func (c conn) PresenceInRange(ctx context.Context, viewer id.UserID, after, upto int64) ([]Presence, error) {
	return c.queryPresence(ctx, selectPresenceInRange, viewer, after, upto)
}

// PresenceOfRoommates returns, as of upto, the presence of viewer and of the users who share a
// joined room with viewer, except those offline.
func (c conn) PresenceOfRoommates(ctx context.Context, viewer id.UserID, upto int64) ([]Presence, error) {
	return c.queryPresence(ctx, selectPresenceOfRoommates, viewer, upto)
}

// PresenceNotOffline returns the published presence of every user who is not offline.
func (c conn) PresenceNotOffline(ctx context.Context) ([]Presence, error) {
	return c.queryPresence(ctx, selectPresenceNotOffline)
}

func scanPresence(row Row) (Presence, error) {
	var p Presence
	err := row.Scan(&p.UserID, &p.State, &p.StatusMsg, &p.LastActiveTS, &p.CurrentlyActive, &p.StreamPos)
	return p, err
}

func (c conn) queryPresence(ctx context.Context, query string, args ...any) ([]Presence, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	defer rows.Close()
	var out []Presence
	for rows.Next() {
		p, err := scanPresence(rows)
		if err != nil {
			return nil, fmt.Errorf("presence: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
