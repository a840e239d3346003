package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

const (
	insertLoginToken        = `INSERT INTO login_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)`
	takeLoginToken          = `DELETE FROM login_tokens WHERE token_hash = $1 RETURNING user_id, expires_ts`
	deleteExpiredLoginToken = `DELETE FROM login_tokens WHERE expires_ts <= $1`
)

// InsertLoginToken stores a login token's hash for a user until expiresTS (Unix ms), and drops
// the tokens expired at nowTS.
func (tx *Tx) InsertLoginToken(ctx context.Context, hash string, userID id.UserID, nowTS, expiresTS int64) error {
	if _, err := tx.q.Exec(ctx, deleteExpiredLoginToken, nowTS); err != nil {
		return fmt.Errorf("delete expired login tokens: %w", err)
	}
	if _, err := tx.q.Exec(ctx, insertLoginToken, hash, userID, expiresTS); err != nil {
		return fmt.Errorf("insert login token: %w", err)
	}
	return nil
}

// TakeLoginToken deletes a login token, which is good for one login, and returns its user and
// expiry; ErrNotFound when there is no such token (never issued, or used already).
func (tx *Tx) TakeLoginToken(ctx context.Context, hash string) (id.UserID, int64, error) {
	var userID id.UserID
	var expiresTS int64
	if err := tx.q.QueryRow(ctx, takeLoginToken, hash).Scan(&userID, &expiresTS); err != nil {
		return "", 0, fmt.Errorf("take login token: %w", err)
	}
	return userID, expiresTS, nil
}
