package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// AccountData is one of a user's account data objects: global (RoomID "") or for a room.
type AccountData struct {
	UserID    id.UserID
	RoomID    id.RoomID // "" for global account data
	Type      string
	Content   json.RawMessage // a JSON object
	StreamPos int64           // from the "account_data" counter
}

const accountDataColumns = `user_id, room_id, type, content, stream_pos`

const (
	upsertAccountData = `INSERT INTO account_data (user_id, room_id, type, content, stream_pos, updated_ts)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, room_id, type) DO UPDATE
		SET content = excluded.content, stream_pos = excluded.stream_pos, updated_ts = excluded.updated_ts`
	selectAccountData = `SELECT ` + accountDataColumns + ` FROM account_data
		WHERE user_id = $1 AND room_id = $2 AND type = $3`
	selectAccountDataInRange = `SELECT ` + accountDataColumns + ` FROM account_data
		WHERE user_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos`
	selectUserAccountData = `SELECT ` + accountDataColumns + ` FROM account_data
		WHERE user_id = $1 AND stream_pos <= $2 ORDER BY stream_pos`
	selectRoomAccountData = `SELECT ` + accountDataColumns + ` FROM account_data
		WHERE user_id = $1 AND room_id = $2 AND stream_pos <= $3 ORDER BY stream_pos`
)

// PutAccountData stores d, replacing the user's object of that type in that room (or the
// global one). The caller has taken d.StreamPos from NextCounter("account_data") in the same
// transaction; ts is the time of the change (Unix ms).
func (tx *Tx) PutAccountData(ctx context.Context, d AccountData, ts int64) error {
	if _, err := tx.q.Exec(ctx, upsertAccountData, d.UserID, d.RoomID, d.Type, string(d.Content), d.StreamPos, ts); err != nil {
		return fmt.Errorf("put account data %s: %w", d.Type, err)
	}
	return nil
}

// AccountDataOf returns a user's object of a type, global (roomID "") or for a room, or
// ErrNotFound.
func (c conn) AccountDataOf(ctx context.Context, userID id.UserID, roomID id.RoomID, typ string) (AccountData, error) {
	d, err := scanAccountData(c.q.QueryRow(ctx, selectAccountData, userID, roomID, typ))
	if err != nil {
		return AccountData{}, fmt.Errorf("account data %s: %w", typ, err)
	}
	return d, nil
}

// AccountDataInRange returns a user's objects, global and per room, that changed in
// (after, upto], in the order they changed.
func (c conn) AccountDataInRange(ctx context.Context, userID id.UserID, after, upto int64) ([]AccountData, error) {
	return c.queryAccountData(ctx, selectAccountDataInRange, userID, after, upto)
}

// UserAccountData returns all of a user's objects, global and per room, as of upto.
func (c conn) UserAccountData(ctx context.Context, userID id.UserID, upto int64) ([]AccountData, error) {
	return c.queryAccountData(ctx, selectUserAccountData, userID, upto)
}

// RoomAccountData returns a user's objects for one room, as of upto.
func (c conn) RoomAccountData(ctx context.Context, userID id.UserID, roomID id.RoomID, upto int64) ([]AccountData, error) {
	return c.queryAccountData(ctx, selectRoomAccountData, userID, roomID, upto)
}

func scanAccountData(row Row) (AccountData, error) {
	var d AccountData
	var content string
	err := row.Scan(&d.UserID, &d.RoomID, &d.Type, &content, &d.StreamPos)
	d.Content = json.RawMessage(content)
	return d, err
}

func (c conn) queryAccountData(ctx context.Context, query string, args ...any) ([]AccountData, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("account data: %w", err)
	}
	defer rows.Close()
	var out []AccountData
	for rows.Next() {
		d, err := scanAccountData(rows)
		if err != nil {
			return nil, fmt.Errorf("account data: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
