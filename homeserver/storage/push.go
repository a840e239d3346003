package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"
)

// PushAction is what an event's push rules decided for one local user it notifies.
type PushAction struct {
	UserID    id.UserID
	RoomID    id.RoomID
	EventID   id.EventID
	StreamPos int64
	ThreadID  string // "main" or the thread root's event ID
	Highlight bool
	Actions   json.RawMessage
	TS        int64
}

// MainThread is the thread ID of events outside any thread.
const MainThread = "main"

const pushActionColumns = `user_id, room_id, event_id, stream_pos, thread_id, highlight, actions, ts`

// InsertPushActions stores the actions an event's push rules decided, each for one user. They
// carry the event's stream position, so the caller has stored the event in this transaction.
func (tx *Tx) InsertPushActions(ctx context.Context, actions []PushAction) error {
	if len(actions) == 0 {
		return nil
	}
	const perRow = 8
	args := make([]any, 0, perRow*len(actions))
	values := make([]string, 0, len(actions))
	for i, a := range actions {
		values = append(values, "("+placeholders(i*perRow+1, perRow)+")")
		args = append(args, a.UserID, a.RoomID, a.EventID, a.StreamPos, a.ThreadID, a.Highlight, string(a.Actions), a.TS)
	}
	_, err := tx.q.Exec(ctx, `INSERT INTO push_actions (`+pushActionColumns+`) VALUES `+strings.Join(values, ", "), args...)
	if err != nil {
		return fmt.Errorf("insert push actions: %w", err)
	}
	return nil
}

// DeletePushActionsOf forgets the notifications of an event, once it is redacted.
func (c conn) DeletePushActionsOf(ctx context.Context, eventID id.EventID) error {
	_, err := c.q.Exec(ctx, `DELETE FROM push_actions WHERE event_id = $1`, eventID)
	return err
}

// MarkReadBySending records that the user sent the event at pos in a thread of the room: what
// came before it there counts as read. It never moves back.
func (tx *Tx) MarkReadBySending(ctx context.Context, userID id.UserID, roomID id.RoomID, threadID string, pos int64) error {
	_, err := tx.q.Exec(ctx, `INSERT INTO sent_read_positions AS s (user_id, room_id, thread_id, stream_pos) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET stream_pos = excluded.stream_pos
		WHERE s.stream_pos < excluded.stream_pos`, userID, roomID, threadID, pos)
	if err != nil {
		return fmt.Errorf("mark read by sending: %w", err)
	}
	return nil
}

// ReadPositions returns how far the user has read in a room, by thread: the stream position
// of the event of their furthest m.read or m.read.private receipt, or of their last event sent
// there. Thread "" is the unthreaded receipts', which cover every thread.
func (c conn) ReadPositions(ctx context.Context, userID id.UserID, roomID id.RoomID) (map[string]int64, error) {
	rows, err := c.q.Query(ctx, `SELECT thread_id, MAX(event_pos) FROM receipts
			WHERE room_id = $1 AND user_id = $2 AND receipt_type IN ('m.read', 'm.read.private') GROUP BY thread_id
		UNION ALL SELECT thread_id, stream_pos FROM sent_read_positions WHERE room_id = $1 AND user_id = $2`, roomID, userID)
	if err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var thread string
		var pos int64
		if err := rows.Scan(&thread, &pos); err != nil {
			return nil, err
		}
		out[thread] = max(out[thread], pos)
	}
	return out, rows.Err()
}

// NotificationCount is how many unread notifications a user has in one thread of a room, and
// how many of them highlight.
type NotificationCount struct {
	ThreadID   string
	Notify     int64
	Highlights int64
}

// UnreadCounts counts a user's notifications in a room that come after what they have read,
// by thread: after read[thread] or read[""], whichever is further (see ReadPositions).
func (c conn) UnreadCounts(ctx context.Context, userID id.UserID, roomID id.RoomID, read map[string]int64) ([]NotificationCount, error) {
	args := []any{userID, roomID, read[""]}
	var ahead, threads []string // the threads read further than the unthreaded receipts
	for thread, pos := range read {
		if thread == "" || pos <= read[""] {
			continue
		}
		args = append(args, thread, pos)
		ahead = append(ahead, fmt.Sprintf(`(thread_id = $%d AND stream_pos > $%d)`, len(args)-1, len(args)))
		threads = append(threads, fmt.Sprintf(`$%d`, len(args)-1))
	}
	cond := `stream_pos > $3`
	if len(ahead) > 0 {
		cond = `(` + strings.Join(ahead, ` OR `) + ` OR (stream_pos > $3 AND thread_id NOT IN (` + strings.Join(threads, `, `) + `)))`
	}
	rows, err := c.q.Query(ctx, `SELECT thread_id, COUNT(*), SUM(CASE WHEN highlight THEN 1 ELSE 0 END) FROM push_actions
		WHERE user_id = $1 AND room_id = $2 AND `+cond+` GROUP BY thread_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("unread counts: %w", err)
	}
	defer rows.Close()
	var out []NotificationCount
	for rows.Next() {
		var n NotificationCount
		if err := rows.Scan(&n.ThreadID, &n.Notify, &n.Highlights); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// RoomsWithNotifications lists the rooms in which the user has notifications after stream
// position after.
func (c conn) RoomsWithNotifications(ctx context.Context, userID id.UserID, after int64) ([]id.RoomID, error) {
	return queryList[id.RoomID](ctx, c.q, `SELECT DISTINCT room_id FROM push_actions WHERE user_id = $1 AND stream_pos > $2`, userID, after)
}

// PushActionsOf returns up to limit of a user's notifications, oldest first after stream
// position after, or newest first before it when backward (before 0: from the newest); only
// highlights when onlyHighlight.
func (c conn) PushActionsOf(ctx context.Context, userID id.UserID, pos int64, backward, onlyHighlight bool, limit int) ([]PushAction, error) {
	cond, order := `stream_pos > $2`, `ASC` // with pos 0 backwards: every position, newest first
	if backward {
		order = `DESC`
		if pos > 0 {
			cond = `stream_pos < $2`
		}
	}
	if onlyHighlight {
		cond += ` AND highlight`
	}
	rows, err := c.q.Query(ctx, `SELECT `+pushActionColumns+` FROM push_actions WHERE user_id = $1 AND `+cond+`
		ORDER BY stream_pos `+order+` LIMIT $3`, userID, pos, limit)
	if err != nil {
		return nil, fmt.Errorf("push actions of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []PushAction
	for rows.Next() {
		var a PushAction
		var actions string
		if err := rows.Scan(&a.UserID, &a.RoomID, &a.EventID, &a.StreamPos, &a.ThreadID, &a.Highlight, &actions, &a.TS); err != nil {
			return nil, err
		}
		a.Actions = json.RawMessage(actions)
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeletePushActionsBefore removes the notifications written before ts, for the retention job;
// it reports how many.
func (c conn) DeletePushActionsBefore(ctx context.Context, ts int64) (int64, error) {
	return c.q.Exec(ctx, `DELETE FROM push_actions WHERE ts < $1`, ts)
}

// Pusher is one HTTP pusher (data/api/client-server/pusher.yaml), with its delivery position.
type Pusher struct {
	UserID            id.UserID
	AppID             string
	PushKey           string
	DeviceID          id.DeviceID
	Kind              string
	AppDisplayName    string
	DeviceDisplayName string
	ProfileTag        string
	Lang              string
	Data              json.RawMessage
	CreatedTS         int64
	DeliveredPos      int64
	FailingSince      int64
}

const pusherColumns = `user_id, app_id, pushkey, device_id, kind, app_display_name, device_display_name, profile_tag, lang, data, created_ts, delivered_pos, failing_since`

// PutPusher creates a pusher, or replaces the user's pusher with the same app ID and pushkey
// while keeping its delivery position.
func (c conn) PutPusher(ctx context.Context, p Pusher) error {
	_, err := c.q.Exec(ctx, `INSERT INTO pushers (`+pusherColumns+`) VALUES (`+placeholders(1, 13)+`)
		ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET device_id = excluded.device_id, kind = excluded.kind,
			app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name,
			profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data`,
		p.UserID, p.AppID, p.PushKey, p.DeviceID, p.Kind, p.AppDisplayName, p.DeviceDisplayName, p.ProfileTag, p.Lang,
		string(p.Data), p.CreatedTS, p.DeliveredPos, p.FailingSince)
	if err != nil {
		return fmt.Errorf("put pusher: %w", err)
	}
	return nil
}

// DeletePusher removes the user's pusher with this app ID and pushkey, if there is one.
func (c conn) DeletePusher(ctx context.Context, userID id.UserID, appID, pushKey string) error {
	_, err := c.q.Exec(ctx, `DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`, userID, appID, pushKey)
	return err
}

// DeletePushersOfOthers removes the pushers with this app ID and pushkey that other users set.
func (c conn) DeletePushersOfOthers(ctx context.Context, userID id.UserID, appID, pushKey string) error {
	_, err := c.q.Exec(ctx, `DELETE FROM pushers WHERE user_id <> $1 AND app_id = $2 AND pushkey = $3`, userID, appID, pushKey)
	return err
}

// PushersOf returns a user's pushers; every pusher when userID is "".
func (c conn) PushersOf(ctx context.Context, userID id.UserID) ([]Pusher, error) {
	query, args := `SELECT `+pusherColumns+` FROM pushers ORDER BY user_id, created_ts`, []any{}
	if userID != "" {
		query, args = `SELECT `+pusherColumns+` FROM pushers WHERE user_id = $1 ORDER BY created_ts`, []any{userID}
	}
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pushers: %w", err)
	}
	defer rows.Close()
	out := []Pusher{}
	for rows.Next() {
		var p Pusher
		var data string
		if err := rows.Scan(&p.UserID, &p.AppID, &p.PushKey, &p.DeviceID, &p.Kind, &p.AppDisplayName, &p.DeviceDisplayName,
			&p.ProfileTag, &p.Lang, &data, &p.CreatedTS, &p.DeliveredPos, &p.FailingSince); err != nil {
			return nil, err
		}
		p.Data = json.RawMessage(data)
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePusherDelivery records how far a pusher has delivered and since when it has been
// failing (0: it is not). It reports false when the pusher is gone.
func (c conn) UpdatePusherDelivery(ctx context.Context, p Pusher) (bool, error) {
	n, err := c.q.Exec(ctx, `UPDATE pushers SET delivered_pos = $4, failing_since = $5
		WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`, p.UserID, p.AppID, p.PushKey, p.DeliveredPos, p.FailingSince)
	if err != nil {
		return false, fmt.Errorf("update pusher: %w", err)
	}
	return n > 0, nil
}

// GlobalAccountDataOfUsers returns the global account data of one type for each of users who
// has it.
func (c conn) GlobalAccountDataOfUsers(ctx context.Context, users []id.UserID, typ string) (map[id.UserID]json.RawMessage, error) {
	out := map[id.UserID]json.RawMessage{}
	if len(users) == 0 {
		return out, nil
	}
	args := []any{typ}
	for _, u := range users {
		args = append(args, u)
	}
	rows, err := c.q.Query(ctx, `SELECT user_id, content FROM account_data WHERE room_id = '' AND type = $1
		AND user_id IN (`+placeholders(2, len(users))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("account data of users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u id.UserID
		var content string
		if err := rows.Scan(&u, &content); err != nil {
			return nil, err
		}
		out[u] = json.RawMessage(content)
	}
	return out, rows.Err()
}
