package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// User is one local account.
type User struct {
	ID           id.UserID
	PasswordHash string // empty: no password login
	IsAdmin      bool
	IsGuest      bool
	Deactivated  bool
	// Locked and Suspended are the admin's reversible restrictions ("Account moderation" in
	// content/client-server-api/_index.md); the accounts package enforces them.
	Locked       bool
	Suspended    bool
	AppserviceID string
	DisplayName  string
	AvatarURL    id.ContentURIString
	CreatedTS    int64
}

const (
	insertUser = `INSERT INTO users (user_id, password_hash, is_admin, is_guest, appservice_id, displayname, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	selectUser = `SELECT user_id, COALESCE(password_hash, ''), is_admin, is_guest, deactivated, locked, suspended,
		COALESCE(appservice_id, ''), COALESCE(displayname, ''), COALESCE(avatar_url, ''), created_ts FROM users WHERE user_id = $1`
	updatePasswordHash = `UPDATE users SET password_hash = $2 WHERE user_id = $1`
	deactivateUser     = `UPDATE users SET deactivated = TRUE, password_hash = NULL, displayname = NULL, avatar_url = NULL WHERE user_id = $1`
	updateDisplayName  = `UPDATE users SET displayname = $2 WHERE user_id = $1`
	updateAvatarURL    = `UPDATE users SET avatar_url = $2 WHERE user_id = $1`
	updateLocked       = `UPDATE users SET locked = $2 WHERE user_id = $1`
	updateSuspended    = `UPDATE users SET suspended = $2 WHERE user_id = $1`
	countPeople        = `SELECT COUNT(*) FROM users WHERE appservice_id IS NULL`
)

func nullIfEmpty[T ~string](s T) any {
	if s == "" {
		return nil
	}
	return string(s)
}

// InsertUser creates an account. It returns ErrConflict when the user ID is taken.
func (c conn) InsertUser(ctx context.Context, u User) error {
	_, err := c.q.Exec(ctx, insertUser, u.ID, nullIfEmpty(u.PasswordHash), u.IsAdmin, u.IsGuest,
		nullIfEmpty(u.AppserviceID), nullIfEmpty(u.DisplayName), u.CreatedTS)
	if err != nil {
		return fmt.Errorf("insert user %s: %w", u.ID, err)
	}
	return nil
}

// UserByID returns the account, or ErrNotFound.
func (c conn) UserByID(ctx context.Context, userID id.UserID) (User, error) {
	var u User
	err := c.q.QueryRow(ctx, selectUser, userID).Scan(&u.ID, &u.PasswordHash, &u.IsAdmin, &u.IsGuest,
		&u.Deactivated, &u.Locked, &u.Suspended, &u.AppserviceID, &u.DisplayName, &u.AvatarURL, &u.CreatedTS)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", userID, err)
	}
	return u, nil
}

// CountPeople returns how many accounts exist that no appservice registered (bridge bots and
// ghosts are not people), deactivated ones included.
func (c conn) CountPeople(ctx context.Context) (int, error) {
	var n int
	err := c.q.QueryRow(ctx, countPeople).Scan(&n)
	return n, err
}

// UpdatePasswordHash replaces the user's password hash.
func (c conn) UpdatePasswordHash(ctx context.Context, userID id.UserID, hash string) error {
	return c.expectOne(ctx, "update password", updatePasswordHash, userID, hash)
}

// DeactivateUser marks the account deactivated and erases its password and profile.
func (c conn) DeactivateUser(ctx context.Context, userID id.UserID) error {
	return c.expectOne(ctx, "deactivate", deactivateUser, userID)
}

// UpdateDisplayName sets (or with "" clears) the user's global display name.
func (c conn) UpdateDisplayName(ctx context.Context, userID id.UserID, name string) error {
	return c.expectOne(ctx, "update displayname", updateDisplayName, userID, nullIfEmpty(name))
}

// UpdateAvatarURL sets (or with "" clears) the user's global avatar.
func (c conn) UpdateAvatarURL(ctx context.Context, userID id.UserID, url id.ContentURIString) error {
	return c.expectOne(ctx, "update avatar", updateAvatarURL, userID, nullIfEmpty(url))
}

// UpdateLocked locks or unlocks the account; ErrNotFound for an unknown user.
func (c conn) UpdateLocked(ctx context.Context, userID id.UserID, locked bool) error {
	return c.expectOne(ctx, "update locked", updateLocked, userID, locked)
}

// UpdateSuspended suspends or unsuspends the account; ErrNotFound for an unknown user.
func (c conn) UpdateSuspended(ctx context.Context, userID id.UserID, suspended bool) error {
	return c.expectOne(ctx, "update suspended", updateSuspended, userID, suspended)
}

// expectOne runs a statement that must affect exactly one row; none gives ErrNotFound.
func (c conn) expectOne(ctx context.Context, what, query string, args ...any) error {
	n, err := c.q.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
