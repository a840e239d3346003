package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// KeyBackupVersion is one of a user's server-side key backups
// (data/api/client-server/key_backup.yaml).
type KeyBackupVersion struct {
	UserID    id.UserID
	Version   int64 // numbered per user from 1
	Algorithm string
	AuthData  json.RawMessage // a JSON object
	ETag      int64           // goes up whenever the version's keys change
	Count     int64           // how many keys the version holds
}

// KeyBackupSession is the backed-up key of one Megolm session.
type KeyBackupSession struct {
	RoomID            id.RoomID
	SessionID         id.SessionID
	FirstMessageIndex int64
	ForwardedCount    int64
	IsVerified        bool
	SessionData       json.RawMessage // a JSON object, encrypted by the client; nil when not read
}

const keyBackupVersionColumns = `v.user_id, v.version, v.algorithm, v.auth_data, v.etag,
	(SELECT COUNT(*) FROM key_backup_sessions s WHERE s.user_id = v.user_id AND s.version = v.version)`

const (
	nextKeyBackupVersion = `INSERT INTO key_backup_users (user_id, last_version) VALUES ($1, 1)
		ON CONFLICT (user_id) DO UPDATE SET last_version = key_backup_users.last_version + 1
		RETURNING last_version`
	lockKeyBackups = `UPDATE key_backup_users SET last_version = last_version WHERE user_id = $1
		RETURNING last_version`
	insertKeyBackupVersion = `INSERT INTO key_backup_versions
		(user_id, version, algorithm, auth_data, etag, created_ts) VALUES ($1, $2, $3, $4, 0, $5)`
	selectKeyBackupVersion = `SELECT ` + keyBackupVersionColumns + ` FROM key_backup_versions v
		WHERE v.user_id = $1 AND v.version = $2`
	selectLatestKeyBackupVersion = `SELECT ` + keyBackupVersionColumns + ` FROM key_backup_versions v
		WHERE v.user_id = $1 ORDER BY v.version DESC LIMIT 1`
	updateKeyBackupAuthData = `UPDATE key_backup_versions SET auth_data = $3
		WHERE user_id = $1 AND version = $2`
	deleteKeyBackupVersion = `DELETE FROM key_backup_versions WHERE user_id = $1 AND version = $2`
	bumpKeyBackupETag      = `UPDATE key_backup_versions SET etag = etag + 1
		WHERE user_id = $1 AND version = $2`

	upsertKeyBackupSession = `INSERT INTO key_backup_sessions (user_id, version, room_id, session_id,
			first_message_index, forwarded_count, is_verified, session_data, updated_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
			first_message_index = excluded.first_message_index,
			forwarded_count = excluded.forwarded_count,
			is_verified = excluded.is_verified,
			session_data = excluded.session_data,
			updated_ts = excluded.updated_ts`
	selectKeyBackupSessionsMeta = `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified
		FROM key_backup_sessions WHERE user_id = $1 AND version = $2 AND room_id = $3`
	keyBackupSessionColumns = `room_id, session_id, first_message_index, forwarded_count, is_verified, session_data`
	selectKeyBackupSessions = `SELECT ` + keyBackupSessionColumns + ` FROM key_backup_sessions
		WHERE user_id = $1 AND version = $2 ORDER BY room_id, session_id`
	selectRoomKeyBackupSessions = `SELECT ` + keyBackupSessionColumns + ` FROM key_backup_sessions
		WHERE user_id = $1 AND version = $2 AND room_id = $3 ORDER BY session_id`
	selectKeyBackupSession = `SELECT ` + keyBackupSessionColumns + ` FROM key_backup_sessions
		WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4`
	deleteKeyBackupSessions     = `DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = $2`
	deleteRoomKeyBackupSessions = `DELETE FROM key_backup_sessions
		WHERE user_id = $1 AND version = $2 AND room_id = $3`
	deleteKeyBackupSession = `DELETE FROM key_backup_sessions
		WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4`
)

// NextKeyBackupVersion hands out the user's next backup version number (1 for their first
// backup; numbers are never reused) and locks the user's backups until the transaction ends.
func (tx *Tx) NextKeyBackupVersion(ctx context.Context, userID id.UserID) (int64, error) {
	var v int64
	if err := tx.q.QueryRow(ctx, nextKeyBackupVersion, userID).Scan(&v); err != nil {
		return 0, fmt.Errorf("next key backup version of %s: %w", userID, err)
	}
	return v, nil
}

// LockKeyBackups locks the user's backups until the transaction ends, so that writes to them
// (creating or deleting a version, writing keys) happen one after the other, and returns the
// last version number handed out: 0 when the user never created a backup.
func (tx *Tx) LockKeyBackups(ctx context.Context, userID id.UserID) (lastVersion int64, err error) {
	err = tx.q.QueryRow(ctx, lockKeyBackups, userID).Scan(&lastVersion)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("lock key backups of %s: %w", userID, err)
	}
	return lastVersion, nil
}

// InsertKeyBackupVersion stores a new backup version, with no keys and etag 0. ts is its
// creation time (Unix ms).
func (tx *Tx) InsertKeyBackupVersion(ctx context.Context, v KeyBackupVersion, ts int64) error {
	if _, err := tx.q.Exec(ctx, insertKeyBackupVersion, v.UserID, v.Version, v.Algorithm, string(v.AuthData), ts); err != nil {
		return fmt.Errorf("insert key backup version %d: %w", v.Version, err)
	}
	return nil
}

// KeyBackupVersionOf returns one of the user's backup versions with its key count, or
// ErrNotFound when it does not exist (or was deleted).
func (c conn) KeyBackupVersionOf(ctx context.Context, userID id.UserID, version int64) (KeyBackupVersion, error) {
	v, err := scanKeyBackupVersion(c.q.QueryRow(ctx, selectKeyBackupVersion, userID, version))
	if err != nil {
		return KeyBackupVersion{}, fmt.Errorf("key backup version %d: %w", version, err)
	}
	return v, nil
}

// LatestKeyBackupVersion returns the user's current backup (the highest version not deleted)
// with its key count, or ErrNotFound when they have none.
func (c conn) LatestKeyBackupVersion(ctx context.Context, userID id.UserID) (KeyBackupVersion, error) {
	v, err := scanKeyBackupVersion(c.q.QueryRow(ctx, selectLatestKeyBackupVersion, userID))
	if err != nil {
		return KeyBackupVersion{}, fmt.Errorf("latest key backup version: %w", err)
	}
	return v, nil
}

// UpdateKeyBackupAuthData replaces a backup version's auth_data, or returns ErrNotFound.
func (tx *Tx) UpdateKeyBackupAuthData(ctx context.Context, userID id.UserID, version int64, authData json.RawMessage) error {
	n, err := tx.q.Exec(ctx, updateKeyBackupAuthData, userID, version, string(authData))
	if err != nil {
		return fmt.Errorf("update key backup version %d: %w", version, err)
	}
	if n == 0 {
		return fmt.Errorf("update key backup version %d: %w", version, ErrNotFound)
	}
	return nil
}

// DeleteKeyBackupVersion deletes a backup version and all its keys, and reports whether it
// existed.
func (tx *Tx) DeleteKeyBackupVersion(ctx context.Context, userID id.UserID, version int64) (bool, error) {
	n, err := tx.q.Exec(ctx, deleteKeyBackupVersion, userID, version)
	if err != nil {
		return false, fmt.Errorf("delete key backup version %d: %w", version, err)
	}
	return n > 0, nil
}

// BumpKeyBackupETag marks a change to a backup version's keys.
func (tx *Tx) BumpKeyBackupETag(ctx context.Context, userID id.UserID, version int64) error {
	if _, err := tx.q.Exec(ctx, bumpKeyBackupETag, userID, version); err != nil {
		return fmt.Errorf("bump key backup etag of version %d: %w", version, err)
	}
	return nil
}

// PutKeyBackupSession stores s in a backup version, replacing the session's key if there is
// one. Whether it should replace it is the caller's decision. ts is the time (Unix ms).
func (tx *Tx) PutKeyBackupSession(ctx context.Context, userID id.UserID, version int64, s KeyBackupSession, ts int64) error {
	_, err := tx.q.Exec(ctx, upsertKeyBackupSession, userID, version, s.RoomID, s.SessionID,
		s.FirstMessageIndex, s.ForwardedCount, s.IsVerified, string(s.SessionData), ts)
	if err != nil {
		return fmt.Errorf("put backed-up key of session %s: %w", s.SessionID, err)
	}
	return nil
}

// RoomKeyBackupMetadata returns the backed-up keys of one room in a version without their
// session_data, by session ID: what deciding on replacements needs.
func (c conn) RoomKeyBackupMetadata(ctx context.Context, userID id.UserID, version int64, roomID id.RoomID) (map[id.SessionID]KeyBackupSession, error) {
	rows, err := c.q.Query(ctx, selectKeyBackupSessionsMeta, userID, version, roomID)
	if err != nil {
		return nil, fmt.Errorf("backed-up keys of %s: %w", roomID, err)
	}
	defer rows.Close()
	out := map[id.SessionID]KeyBackupSession{}
	for rows.Next() {
		var s KeyBackupSession
		if err := rows.Scan(&s.RoomID, &s.SessionID, &s.FirstMessageIndex, &s.ForwardedCount, &s.IsVerified); err != nil {
			return nil, fmt.Errorf("backed-up keys of %s: %w", roomID, err)
		}
		out[s.SessionID] = s
	}
	return out, rows.Err()
}

// KeyBackupSessions returns the backed-up keys of a version, all rooms' (roomID "") or one
// room's, ordered by room and session.
func (c conn) KeyBackupSessions(ctx context.Context, userID id.UserID, version int64, roomID id.RoomID) ([]KeyBackupSession, error) {
	query, args := selectKeyBackupSessions, []any{userID, version}
	if roomID != "" {
		query, args = selectRoomKeyBackupSessions, append(args, roomID)
	}
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("backed-up keys: %w", err)
	}
	defer rows.Close()
	var out []KeyBackupSession
	for rows.Next() {
		s, err := scanKeyBackupSession(rows)
		if err != nil {
			return nil, fmt.Errorf("backed-up keys: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// KeyBackupSessionOf returns the backed-up key of one session, or ErrNotFound.
func (c conn) KeyBackupSessionOf(ctx context.Context, userID id.UserID, version int64, roomID id.RoomID, sessionID id.SessionID) (KeyBackupSession, error) {
	s, err := scanKeyBackupSession(c.q.QueryRow(ctx, selectKeyBackupSession, userID, version, roomID, sessionID))
	if err != nil {
		return KeyBackupSession{}, fmt.Errorf("backed-up key of session %s: %w", sessionID, err)
	}
	return s, nil
}

// DeleteKeyBackupSessions deletes backed-up keys from a version: all of them (roomID ""),
// one room's (sessionID "") or one session's. It returns how many it deleted.
func (tx *Tx) DeleteKeyBackupSessions(ctx context.Context, userID id.UserID, version int64, roomID id.RoomID, sessionID id.SessionID) (int64, error) {
	query, args := deleteKeyBackupSessions, []any{userID, version}
	switch {
	case roomID != "" && sessionID != "":
		query, args = deleteKeyBackupSession, append(args, roomID, sessionID)
	case roomID != "":
		query, args = deleteRoomKeyBackupSessions, append(args, roomID)
	}
	n, err := tx.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("delete backed-up keys: %w", err)
	}
	return n, nil
}

func scanKeyBackupVersion(row Row) (KeyBackupVersion, error) {
	var v KeyBackupVersion
	var authData string
	err := row.Scan(&v.UserID, &v.Version, &v.Algorithm, &authData, &v.ETag, &v.Count)
	v.AuthData = json.RawMessage(authData)
	return v, err
}

func scanKeyBackupSession(row Row) (KeyBackupSession, error) {
	var s KeyBackupSession
	var data string
	err := row.Scan(&s.RoomID, &s.SessionID, &s.FirstMessageIndex, &s.ForwardedCount, &s.IsVerified, &data)
	s.SessionData = json.RawMessage(data)
	return s, err
}
