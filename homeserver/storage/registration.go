package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// RegistrationToken gates registration when registration mode is "token".
type RegistrationToken struct {
	Token       string
	UsesAllowed *int64 // nil: unlimited
	Pending     int64
	Completed   int64
	ExpiryTS    *int64 // nil: never
	CreatedTS   int64
}

// UIASession is one user-interactive authentication session.
type UIASession struct {
	ID                string
	UserID            id.UserID // empty for registration
	RequestHash       string    // the request the session authorises; a session is not reusable for another
	Completed         string    // JSON array of completed stage types
	RegistrationToken string    // the token validated in this session, if any
	CreatedTS         int64
}

const (
	insertRegistrationToken = `INSERT INTO registration_tokens (token, uses_allowed, expiry_ts, created_ts) VALUES ($1, $2, $3, $4)`
	selectRegistrationToken = `SELECT token, uses_allowed, pending, completed, expiry_ts, created_ts FROM registration_tokens WHERE token = $1`
	// A token is usable while pending+completed uses stay below uses_allowed.
	reserveRegistrationToken = `UPDATE registration_tokens SET pending = pending + 1
		WHERE token = $1 AND (uses_allowed IS NULL OR pending + completed < uses_allowed) AND (expiry_ts IS NULL OR expiry_ts > $2)`
	completeRegistrationToken = `UPDATE registration_tokens SET pending = pending - 1, completed = completed + 1 WHERE token = $1 AND pending > 0`
	releaseRegistrationToken  = `UPDATE registration_tokens SET pending = pending - 1 WHERE token = $1 AND pending > 0`

	insertUIASession = `INSERT INTO uia_sessions (session_id, user_id, request_hash, created_ts) VALUES ($1, $2, $3, $4)`
	selectUIASession = `SELECT session_id, user_id, request_hash, completed, COALESCE(registration_token, ''), created_ts
		FROM uia_sessions WHERE session_id = $1`
	updateUIASession = `UPDATE uia_sessions SET completed = $2, registration_token = $3 WHERE session_id = $1`
	deleteUIASession = `DELETE FROM uia_sessions WHERE session_id = $1`
	deleteUIABefore  = `DELETE FROM uia_sessions WHERE created_ts < $1`
	selectUIABefore  = `SELECT session_id, user_id, request_hash, completed, COALESCE(registration_token, ''), created_ts
		FROM uia_sessions WHERE created_ts < $1 ORDER BY created_ts LIMIT $2`
)

// InsertRegistrationToken stores a new registration token.
func (c conn) InsertRegistrationToken(ctx context.Context, t RegistrationToken) error {
	_, err := c.q.Exec(ctx, insertRegistrationToken, t.Token, t.UsesAllowed, t.ExpiryTS, t.CreatedTS)
	if err != nil {
		return fmt.Errorf("insert registration token: %w", err)
	}
	return nil
}

// RegistrationTokenByValue returns a token, or ErrNotFound.
func (c conn) RegistrationTokenByValue(ctx context.Context, token string) (RegistrationToken, error) {
	var t RegistrationToken
	err := c.q.QueryRow(ctx, selectRegistrationToken, token).Scan(&t.Token, &t.UsesAllowed, &t.Pending, &t.Completed, &t.ExpiryTS, &t.CreatedTS)
	if err != nil {
		return RegistrationToken{}, fmt.Errorf("registration token: %w", err)
	}
	return t, nil
}

// ReserveRegistrationToken counts one pending use of a token. It returns ErrNotFound when the
// token does not exist, has expired or has no uses left.
func (c conn) ReserveRegistrationToken(ctx context.Context, token string, nowTS int64) error {
	return c.expectOne(ctx, "reserve registration token", reserveRegistrationToken, token, nowTS)
}

// CompleteRegistrationToken turns one pending use into a completed one.
func (c conn) CompleteRegistrationToken(ctx context.Context, token string) error {
	return c.expectOne(ctx, "complete registration token", completeRegistrationToken, token)
}

// ReleaseRegistrationToken gives back one pending use of a token, for a registration that was
// abandoned; ErrNotFound if the token has no pending use.
func (c conn) ReleaseRegistrationToken(ctx context.Context, token string) error {
	return c.expectOne(ctx, "release registration token", releaseRegistrationToken, token)
}

// InsertUIASession starts a user-interactive authentication session.
func (c conn) InsertUIASession(ctx context.Context, s UIASession) error {
	_, err := c.q.Exec(ctx, insertUIASession, s.ID, s.UserID, s.RequestHash, s.CreatedTS)
	return err
}

// UIASessionByID returns a session, or ErrNotFound.
func (c conn) UIASessionByID(ctx context.Context, sessionID string) (UIASession, error) {
	var s UIASession
	err := c.q.QueryRow(ctx, selectUIASession, sessionID).Scan(&s.ID, &s.UserID, &s.RequestHash, &s.Completed, &s.RegistrationToken, &s.CreatedTS)
	if err != nil {
		return UIASession{}, fmt.Errorf("uia session: %w", err)
	}
	return s, nil
}

// UpdateUIASession records the session's completed stages and validated registration token.
func (c conn) UpdateUIASession(ctx context.Context, s UIASession) error {
	return c.expectOne(ctx, "update uia session", updateUIASession, s.ID, s.Completed, nullIfEmpty(s.RegistrationToken))
}

// DeleteUIASession ends a session.
func (c conn) DeleteUIASession(ctx context.Context, sessionID string) error {
	_, err := c.q.Exec(ctx, deleteUIASession, sessionID)
	return err
}

// DeleteUIASessionsOlderThan removes sessions created before ts.
func (c conn) DeleteUIASessionsOlderThan(ctx context.Context, ts int64) (int64, error) {
	return c.q.Exec(ctx, deleteUIABefore, ts)
}

// UIASessionsOlderThan returns up to limit sessions created before ts, oldest first.
func (c conn) UIASessionsOlderThan(ctx context.Context, ts int64, limit int) ([]UIASession, error) {
	rows, err := c.q.Query(ctx, selectUIABefore, ts, limit)
	if err != nil {
		return nil, fmt.Errorf("uia sessions before %d: %w", ts, err)
	}
	defer rows.Close()
	var out []UIASession
	for rows.Next() {
		var s UIASession
		if err := rows.Scan(&s.ID, &s.UserID, &s.RequestHash, &s.Completed, &s.RegistrationToken, &s.CreatedTS); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
