package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Receipt is a user's receipt of one type (m.read or m.read.private) in one room and thread.
type Receipt struct {
	RoomID    id.RoomID
	UserID    id.UserID
	Type      event.ReceiptType
	ThreadID  string // "" for an unthreaded receipt
	EventID   id.EventID
	EventPos  int64 // the event's stream position
	TS        int64
	StreamPos int64 // from the "receipts" counter
}

const receiptColumns = `r.room_id, r.user_id, r.receipt_type, r.thread_id, r.event_id, r.event_pos, r.ts, r.stream_pos`

const (
	// A receipt moves only forward: the update applies only to a later event.
	upsertReceipt = `INSERT INTO receipts AS r (room_id, user_id, receipt_type, thread_id, event_id, event_pos, ts, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE
		SET event_id = excluded.event_id, event_pos = excluded.event_pos, ts = excluded.ts, stream_pos = excluded.stream_pos
		WHERE r.event_pos < excluded.event_pos`
	// What a user may see of receipts: everyone's m.read and their own m.read.private
	// (content/client-server-api/modules/receipts.md, "Private read receipts").
	visibleReceipt = `(r.receipt_type = 'm.read' OR r.receipt_type = 'm.read.private' AND r.user_id = $1)`
	// Newest first, so that LIMIT keeps the latest.
	selectReceiptsInRange = `SELECT ` + receiptColumns + ` FROM receipts r
		JOIN current_state m ON m.room_id = r.room_id AND m.type = 'm.room.member' AND m.state_key = $1 AND m.membership = 'join'
		WHERE r.stream_pos > $2 AND r.stream_pos <= $3 AND ` + visibleReceipt + `
		ORDER BY r.stream_pos DESC LIMIT $4`
	selectRoomReceipts = `SELECT ` + receiptColumns + ` FROM receipts r
		WHERE r.room_id = $2 AND r.stream_pos <= $3 AND ` + visibleReceipt + `
		ORDER BY r.stream_pos DESC LIMIT $4`
)

// UpsertReceipt stores r unless the user's receipt of that type and thread already points at
// an event at or after r.EventPos, and reports whether it stored it. The caller has taken
// r.StreamPos from NextCounter("receipts") in the same transaction.
func (tx *Tx) UpsertReceipt(ctx context.Context, r Receipt) (bool, error) {
	n, err := tx.q.Exec(ctx, upsertReceipt, r.RoomID, r.UserID, r.Type, r.ThreadID, r.EventID, r.EventPos, r.TS, r.StreamPos)
	if err != nil {
		return false, fmt.Errorf("upsert receipt: %w", err)
	}
	return n > 0, nil
}

// ReceiptsInRange returns up to limit of the newest receipts with stream positions in
// (after, upto] in the rooms viewer is joined to, newest first: everyone's m.read receipts
// and viewer's own m.read.private ones.
func (c conn) ReceiptsInRange(ctx context.Context, viewer id.UserID, after, upto int64, limit int) ([]Receipt, error) {
	return c.queryReceipts(ctx, selectReceiptsInRange, viewer, after, upto, limit)
}

// RoomReceipts returns up to limit of the newest receipts of a room at or below upto, newest
// first, as ReceiptsInRange chooses them for viewer.
func (c conn) RoomReceipts(ctx context.Context, viewer id.UserID, roomID id.RoomID, upto int64, limit int) ([]Receipt, error) {
	return c.queryReceipts(ctx, selectRoomReceipts, viewer, roomID, upto, limit)
}

func scanReceipt(row Row) (Receipt, error) {
	var r Receipt
	err := row.Scan(&r.RoomID, &r.UserID, &r.Type, &r.ThreadID, &r.EventID, &r.EventPos, &r.TS, &r.StreamPos)
	return r, err
}

func (c conn) queryReceipts(ctx context.Context, query string, args ...any) ([]Receipt, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		r, err := scanReceipt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
