package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

const (
	insertOpenIDToken        = `INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)`
	selectOpenIDToken        = `SELECT user_id FROM openid_tokens WHERE token_hash = $1 AND expires_ts > $2`
	deleteExpiredOpenIDToken = `DELETE FROM openid_tokens WHERE expires_ts <= $1`
)

// InsertOpenIDToken stores an OpenID token's hash for a user until expiresTS (Unix ms), and
// drops the tokens expired at nowTS.
func (tx *Tx) InsertOpenIDToken(ctx context.Context, hash string, userID id.UserID, nowTS, expiresTS int64) error {
	if _, err := tx.q.Exec(ctx, deleteExpiredOpenIDToken, nowTS); err != nil {
		return fmt.Errorf("delete expired openid tokens: %w", err)
	}
	if _, err := tx.q.Exec(ctx, insertOpenIDToken, hash, userID, expiresTS); err != nil {
		return fmt.Errorf("insert openid token: %w", err)
	}
	return nil
}

// OpenIDTokenUser returns the user of an OpenID token that has not expired at nowTS, or
// ErrNotFound.
func (c conn) OpenIDTokenUser(ctx context.Context, hash string, nowTS int64) (id.UserID, error) {
	var userID id.UserID
	if err := c.q.QueryRow(ctx, selectOpenIDToken, hash, nowTS).Scan(&userID); err != nil {
		return "", fmt.Errorf("openid token: %w", err)
	}
	return userID, nil
}
