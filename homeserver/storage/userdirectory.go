package storage

import (
	"context"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"
)

// UserMatch is a local user whose ID or display name matched a search.
type UserMatch struct {
	UserID      id.UserID
	DisplayName string
	AvatarURL   string
}

// searchUsers matches a lower-cased LIKE pattern against user IDs and display names.
const searchUsers = `SELECT user_id, COALESCE(displayname, ''), COALESCE(avatar_url, '') FROM users
	WHERE NOT deactivated AND (LOWER(user_id) LIKE $1 ESCAPE '\' OR LOWER(COALESCE(displayname, '')) LIKE $1 ESCAPE '\')
	ORDER BY user_id LIMIT $2`

// SearchUsers returns up to limit active local users whose ID or display name contains term,
// ignoring case (on SQLite, the case of ASCII letters only), by user ID.
func (c conn) SearchUsers(ctx context.Context, term string, limit int) ([]UserMatch, error) {
	rows, err := c.q.Query(ctx, searchUsers, "%"+escapeLike(strings.ToLower(term))+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	var out []UserMatch
	for rows.Next() {
		var m UserMatch
		if err := rows.Scan(&m.UserID, &m.DisplayName, &m.AvatarURL); err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// escapeLike makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// JoinedRoomsOfUsers returns the rooms each of the users is joined to.
func (c conn) JoinedRoomsOfUsers(ctx context.Context, userIDs []id.UserID) (map[id.UserID][]id.RoomID, error) {
	out := map[id.UserID][]id.RoomID{}
	if len(userIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(userIDs))
	for i, u := range userIDs {
		args[i] = u
	}
	rows, err := c.q.Query(ctx, `SELECT state_key, room_id FROM current_state
		WHERE type = 'm.room.member' AND membership = 'join' AND state_key IN (`+placeholders(1, len(userIDs))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("joined rooms of users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var userID id.UserID
		var roomID id.RoomID
		if err := rows.Scan(&userID, &roomID); err != nil {
			return nil, fmt.Errorf("joined rooms of users: %w", err)
		}
		out[userID] = append(out[userID], roomID)
	}
	return out, rows.Err()
}
