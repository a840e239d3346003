package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// AccessToken is what an access token's hash resolves to.
type AccessToken struct {
	UserID       id.UserID
	DeviceID     id.DeviceID
	ExpiresTS    int64 // 0: never
	Deactivated  bool
	IsGuest      bool
	AppserviceID string
}

// RefreshToken is a stored refresh token.
type RefreshToken struct {
	Hash          string
	UserID        id.UserID
	DeviceID      id.DeviceID
	NextTokenHash string // the refresh token issued in exchange for this one, if any
}

const (
	insertAccessToken = `INSERT INTO access_tokens (token_hash, user_id, device_id, refresh_token_hash, created_ts, expires_ts)
		VALUES ($1, $2, $3, $4, $5, $6)`
	selectAccessToken = `SELECT a.user_id, a.device_id, a.expires_ts, u.deactivated, u.is_guest, COALESCE(u.appservice_id, '')
		FROM access_tokens a JOIN users u ON u.user_id = a.user_id WHERE a.token_hash = $1`
	deleteAccessToken           = `DELETE FROM access_tokens WHERE token_hash = $1`
	deleteAccessTokensOfRefresh = `DELETE FROM access_tokens WHERE refresh_token_hash = $1`
	insertRefreshToken          = `INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)`
	selectRefreshToken          = `SELECT token_hash, user_id, device_id, COALESCE(next_token_hash, '') FROM refresh_tokens WHERE token_hash = $1`
	setNextRefreshToken         = `UPDATE refresh_tokens SET next_token_hash = $2 WHERE token_hash = $1`
	deleteRefreshToken          = `DELETE FROM refresh_tokens WHERE token_hash = $1`
	deleteRefreshTokensBefore   = `DELETE FROM refresh_tokens WHERE next_token_hash = $1`
)

// InsertAccessToken stores a new access token's hash for a device. refreshHash links it to the
// refresh token issued with it ("" for none); expiresTS 0 means it never expires.
func (c conn) InsertAccessToken(ctx context.Context, hash string, userID id.UserID, deviceID id.DeviceID, refreshHash string, createdTS, expiresTS int64) error {
	_, err := c.q.Exec(ctx, insertAccessToken, hash, userID, deviceID, nullIfEmpty(refreshHash), createdTS, expiresTS)
	if err != nil {
		return fmt.Errorf("insert access token: %w", err)
	}
	return nil
}

// AccessTokenByHash resolves a token hash, or returns ErrNotFound.
func (c conn) AccessTokenByHash(ctx context.Context, hash string) (AccessToken, error) {
	var t AccessToken
	err := c.q.QueryRow(ctx, selectAccessToken, hash).Scan(&t.UserID, &t.DeviceID, &t.ExpiresTS, &t.Deactivated, &t.IsGuest, &t.AppserviceID)
	if err != nil {
		return AccessToken{}, fmt.Errorf("access token: %w", err)
	}
	return t, nil
}

// DeleteAccessToken revokes one access token.
func (c conn) DeleteAccessToken(ctx context.Context, hash string) error {
	_, err := c.q.Exec(ctx, deleteAccessToken, hash)
	return err
}

// InsertRefreshToken stores a new refresh token's hash for a device.
func (c conn) InsertRefreshToken(ctx context.Context, hash string, userID id.UserID, deviceID id.DeviceID, createdTS int64) error {
	_, err := c.q.Exec(ctx, insertRefreshToken, hash, userID, deviceID, createdTS)
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// RefreshTokenByHash returns a stored refresh token, or ErrNotFound.
func (c conn) RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error) {
	var t RefreshToken
	err := c.q.QueryRow(ctx, selectRefreshToken, hash).Scan(&t.Hash, &t.UserID, &t.DeviceID, &t.NextTokenHash)
	if err != nil {
		return RefreshToken{}, fmt.Errorf("refresh token: %w", err)
	}
	return t, nil
}

// ReplaceRefreshToken records that old was exchanged for next. The pair issued by an earlier,
// unused exchange of old (a retried refresh) is revoked; refresh tokens exchanged for old
// itself are revoked now that old is in use.
func (c conn) ReplaceRefreshToken(ctx context.Context, old RefreshToken, next string) error {
	if old.NextTokenHash != "" {
		if _, err := c.q.Exec(ctx, deleteAccessTokensOfRefresh, old.NextTokenHash); err != nil {
			return err
		}
		if _, err := c.q.Exec(ctx, deleteRefreshToken, old.NextTokenHash); err != nil {
			return err
		}
	}
	if _, err := c.q.Exec(ctx, deleteRefreshTokensBefore, old.Hash); err != nil {
		return err
	}
	return c.expectOne(ctx, "replace refresh token", setNextRefreshToken, old.Hash, next)
}
