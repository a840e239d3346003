package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

const (
	insertFilter = `INSERT INTO filters (user_id, filter_id, filter_json, created_ts)
		SELECT $1, COALESCE(MAX(filter_id), -1) + 1, $2, $3 FROM filters WHERE user_id = $1
		RETURNING filter_id`
	selectFilter = `SELECT filter_json FROM filters WHERE user_id = $1 AND filter_id = $2`
)

// InsertFilter stores a filter and returns its per-user ID. Run it in a transaction: the ID is
// the user's highest plus one.
func (tx *Tx) InsertFilter(ctx context.Context, userID id.UserID, filterJSON []byte, createdTS int64) (int64, error) {
	var fid int64
	if err := tx.q.QueryRow(ctx, insertFilter, userID, string(filterJSON), createdTS).Scan(&fid); err != nil {
		return 0, fmt.Errorf("insert filter: %w", err)
	}
	return fid, nil
}

// FilterByID returns a stored filter's JSON, or ErrNotFound.
func (c conn) FilterByID(ctx context.Context, userID id.UserID, filterID int64) ([]byte, error) {
	var s string
	if err := c.q.QueryRow(ctx, selectFilter, userID, filterID).Scan(&s); err != nil {
		return nil, fmt.Errorf("filter %d: %w", filterID, err)
	}
	return []byte(s), nil
}
