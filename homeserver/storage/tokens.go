package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// AccessToken is what an access token's hash resolves to.
type AccessToken struct {
	UserID           id.UserID
	DeviceID         id.DeviceID
	RefreshTokenHash string // the refresh token issued together with this access token, if any
	ExpiresTS        int64  // 0: never
	Deactivated      bool
	Locked           bool
	Suspended        bool
	IsAdmin          bool
	IsGuest          bool
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
	selectAccessToken = `SELECT a.user_id, a.device_id, COALESCE(a.refresh_token_hash, ''), a.expires_ts,
		u.deactivated, u.locked, u.suspended, u.is_admin, u.is_guest
		FROM access_tokens a JOIN users u ON u.user_id = a.user_id WHERE a.token_hash = $1`
	deleteAccessToken           = `DELETE FROM access_tokens WHERE token_hash = $1`
	deleteAccessTokensOfRefresh = `DELETE FROM access_tokens WHERE refresh_token_hash = $1`
	deleteAccessTokensOfDevice  = `DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2`
	insertRefreshToken          = `INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)`
	selectRefreshToken          = `SELECT token_hash, user_id, device_id, COALESCE(next_token_hash, '') FROM refresh_tokens WHERE token_hash = $1`
	// Compare-and-set: the row changes only if nobody exchanged the token since it was read.
	setNextRefreshToken = `UPDATE refresh_tokens SET next_token_hash = $2
		WHERE token_hash = $1 AND COALESCE(next_token_hash, '') = $3`
	deleteRefreshToken          = `DELETE FROM refresh_tokens WHERE token_hash = $1`
	deleteRefreshTokensBefore   = `DELETE FROM refresh_tokens WHERE next_token_hash = $1`
	deleteRefreshTokensOfDevice = `DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2`
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
	err := c.q.QueryRow(ctx, selectAccessToken, hash).Scan(&t.UserID, &t.DeviceID, &t.RefreshTokenHash, &t.ExpiresTS,
		&t.Deactivated, &t.Locked, &t.Suspended, &t.IsAdmin, &t.IsGuest)
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

// DeleteTokensOfDevice revokes every access and refresh token of a device and keeps the device,
// as a new login on an existing device ID does.
func (c conn) DeleteTokensOfDevice(ctx context.Context, userID id.UserID, deviceID id.DeviceID) error {
	if _, err := c.q.Exec(ctx, deleteAccessTokensOfDevice, userID, deviceID); err != nil {
		return fmt.Errorf("delete access tokens of %s/%s: %w", userID, deviceID, err)
	}
	if _, err := c.q.Exec(ctx, deleteRefreshTokensOfDevice, userID, deviceID); err != nil {
		return fmt.Errorf("delete refresh tokens of %s/%s: %w", userID, deviceID, err)
	}
	return nil
}

// DeleteRefreshTokenReplacedBy revokes the refresh token that was exchanged for next, if it is
// still there: once the pair issued by an exchange is used, the token exchanged for it is
// revoked (data/api/client-server/refresh.yaml). It reports how many tokens it revoked.
func (c conn) DeleteRefreshTokenReplacedBy(ctx context.Context, next string) (int64, error) {
	n, err := c.q.Exec(ctx, deleteRefreshTokensBefore, next)
	if err != nil {
		return 0, fmt.Errorf("delete refresh token replaced: %w", err)
	}
	return n, nil
}

// ReplaceRefreshToken records that old, as read earlier in the same transaction, was exchanged
// for next. The pair issued by an earlier exchange of old is revoked: had it been used, old
// would be gone, so the client never received it and is retrying. The refresh token exchanged
// for old itself is revoked now that old is in use.
//
// It returns ErrConflict when old changed since it was read (a concurrent exchange of the same
// token committed first, or old was revoked); the caller should read old again and retry. The
// check matters on PostgreSQL, where two transactions can read old at once: without it both
// would issue a pair and one pair would stay valid forever, unlinked from old.
func (c conn) ReplaceRefreshToken(ctx context.Context, old RefreshToken, next string) error {
	// The compare-and-set goes first so that it also takes the row lock before any delete.
	n, err := c.q.Exec(ctx, setNextRefreshToken, old.Hash, next, old.NextTokenHash)
	if err != nil {
		return fmt.Errorf("replace refresh token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("replace refresh token: %w", ErrConflict)
	}
	if old.NextTokenHash != "" {
		if _, err := c.q.Exec(ctx, deleteAccessTokensOfRefresh, old.NextTokenHash); err != nil {
			return fmt.Errorf("replace refresh token: %w", err)
		}
		if _, err := c.q.Exec(ctx, deleteRefreshToken, old.NextTokenHash); err != nil {
			return fmt.Errorf("replace refresh token: %w", err)
		}
	}
	if _, err := c.q.Exec(ctx, deleteRefreshTokensBefore, old.Hash); err != nil {
		return fmt.Errorf("replace refresh token: %w", err)
	}
	return nil
}
