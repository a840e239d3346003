package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Backups keeps users' server-side key backups (content/client-server-api/modules/
// end_to_end_encryption.md, "Server-side key backups"; data/api/client-server/key_backup.yaml).
// A backup is per user, not per device. The server cannot read the keys: it keeps the client's
// encrypted session_data and uses the unencrypted metadata beside it only to decide which of
// two keys for one session to keep.
type Backups struct {
	db  *storage.DB
	now func() time.Time
}

// NewBackups returns the key backup service on db.
func NewBackups(db *storage.DB) *Backups {
	return &Backups{db: db, now: time.Now}
}

// BackupVersion describes a backup, as GET /room_keys/version answers.
type BackupVersion struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Count     int64           `json:"count"`
	ETag      string          `json:"etag"`
	Version   string          `json:"version"`
}

// KeyData is the backed-up key of one Megolm session (KeyBackupData in
// data/api/client-server/definitions/key_backup_data.yaml).
type KeyData struct {
	FirstMessageIndex int64           `json:"first_message_index"`
	ForwardedCount    int64           `json:"forwarded_count"`
	IsVerified        bool            `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// RoomKeys is a room's backed-up keys by session ID (RoomKeyBackup in
// data/api/client-server/definitions/room_key_backup.yaml).
type RoomKeys struct {
	Sessions map[id.SessionID]KeyData `json:"sessions"`
}

// KeysUpdate is the state of a backup after its keys were written or deleted
// (RoomKeysUpdateResponse in key_backup.yaml).
type KeysUpdate struct {
	ETag  string `json:"etag"`
	Count int64  `json:"count"`
}

// errUnknownVersion answers for a backup version that does not exist.
var errUnknownVersion = mxerr.NotFound.WithMessage("Unknown backup version")

// CreateVersion creates a new backup for userID, which becomes the one keys are written to,
// and returns its version. The algorithm is not checked against a list: the server stores the
// backup without understanding it, so a client using a newer algorithm than the spec's
// m.megolm_backup.v1.curve25519-aes-sha2 is not refused.
func (b *Backups) CreateVersion(ctx context.Context, userID id.UserID, algorithm string, authData json.RawMessage) (string, error) {
	if err := checkVersionBody(algorithm, authData); err != nil {
		return "", err
	}
	var version int64
	err := b.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if version, err = tx.NextKeyBackupVersion(ctx, userID); err != nil {
			return err
		}
		return tx.InsertKeyBackupVersion(ctx, storage.KeyBackupVersion{
			UserID: userID, Version: version, Algorithm: algorithm, AuthData: authData,
		}, b.now().UnixMilli())
	})
	if err != nil {
		return "", fmt.Errorf("create key backup: %w", err)
	}
	return formatVersion(version), nil
}

// Version describes one of userID's backups, the current one when version is "". It answers
// M_NOT_FOUND when there is no such backup.
func (b *Backups) Version(ctx context.Context, userID id.UserID, version string) (BackupVersion, error) {
	var v storage.KeyBackupVersion
	var err error
	if version == "" {
		v, err = b.db.LatestKeyBackupVersion(ctx, userID)
		if errors.Is(err, storage.ErrNotFound) {
			return BackupVersion{}, mxerr.NotFound.WithMessage("No current backup version")
		}
	} else {
		v, err = b.version(ctx, b.db, userID, version)
	}
	if err != nil {
		return BackupVersion{}, err
	}
	return BackupVersion{
		Algorithm: v.Algorithm,
		AuthData:  v.AuthData,
		Count:     v.Count,
		ETag:      formatETag(v.ETag),
		Version:   formatVersion(v.Version),
	}, nil
}

// UpdateVersion replaces the auth_data of one of userID's backups: the only thing that may
// change. The algorithm must be the backup's, and bodyVersion, the version in the request
// body, must be "" or the version being updated (M_INVALID_PARAM otherwise).
func (b *Backups) UpdateVersion(ctx context.Context, userID id.UserID, version, bodyVersion, algorithm string, authData json.RawMessage) error {
	if err := checkVersionBody(algorithm, authData); err != nil {
		return err
	}
	if bodyVersion != "" && bodyVersion != version {
		return mxerr.InvalidParam.WithMessage("The version in the body does not match the version in the path")
	}
	return b.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockKeyBackups(ctx, userID); err != nil {
			return err
		}
		v, err := b.version(ctx, tx, userID, version)
		if err != nil {
			return err
		}
		if v.Algorithm != algorithm {
			return mxerr.InvalidParam.WithMessage("Algorithm does not match")
		}
		return tx.UpdateKeyBackupAuthData(ctx, userID, v.Version, authData)
	})
}

// DeleteVersion deletes one of userID's backups with all its keys. Deleting a backup that was
// already deleted succeeds, as the spec asks; one that never existed is M_NOT_FOUND.
func (b *Backups) DeleteVersion(ctx context.Context, userID id.UserID, version string) error {
	n, ok := parseVersion(version)
	if !ok {
		return errUnknownVersion
	}
	return b.db.InTx(ctx, func(tx *storage.Tx) error {
		last, err := tx.LockKeyBackups(ctx, userID)
		if err != nil {
			return err
		}
		if n > last {
			return errUnknownVersion
		}
		_, err = tx.DeleteKeyBackupVersion(ctx, userID, n)
		return err
	})
}

// PutKeys writes keys, by room and session, into userID's backup version, which must be the
// current backup: M_NOT_FOUND when the user has no backup, M_WRONG_ROOM_KEYS_VERSION naming the
// current version when version is another. A key for a session the backup already has a key
// for replaces it only when it is better (see better). The etag changes when any key did.
func (b *Backups) PutKeys(ctx context.Context, userID id.UserID, version string, rooms map[id.RoomID]RoomKeys) (KeysUpdate, error) {
	if err := checkRooms(rooms); err != nil {
		return KeysUpdate{}, err
	}
	var out KeysUpdate
	err := b.db.InTx(ctx, func(tx *storage.Tx) error {
		v, err := b.currentVersion(ctx, tx, userID, version)
		if err != nil {
			return err
		}
		changed, err := b.putKeys(ctx, tx, userID, v.Version, rooms)
		if err != nil {
			return err
		}
		out, err = b.keysUpdate(ctx, tx, userID, v.Version, changed)
		return err
	})
	return out, err
}

// currentVersion locks userID's backups and returns the current one, which version must name.
func (b *Backups) currentVersion(ctx context.Context, tx *storage.Tx, userID id.UserID, version string) (storage.KeyBackupVersion, error) {
	if _, err := tx.LockKeyBackups(ctx, userID); err != nil {
		return storage.KeyBackupVersion{}, err
	}
	current, err := tx.LatestKeyBackupVersion(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.KeyBackupVersion{}, errUnknownVersion
	}
	if err != nil {
		return storage.KeyBackupVersion{}, err
	}
	if n, ok := parseVersion(version); !ok || n != current.Version {
		return storage.KeyBackupVersion{}, mxerr.WrongRoomKeysVersionCurrent(formatVersion(current.Version))
	}
	return current, nil
}

// putKeys writes the keys that are better than those stored and reports whether it wrote any.
func (b *Backups) putKeys(ctx context.Context, tx *storage.Tx, userID id.UserID, version int64, rooms map[id.RoomID]RoomKeys) (bool, error) {
	ts := b.now().UnixMilli()
	changed := false
	for roomID, room := range rooms {
		stored, err := tx.RoomKeyBackupMetadata(ctx, userID, version, roomID)
		if err != nil {
			return false, err
		}
		for sessionID, key := range room.Sessions {
			if old, ok := stored[sessionID]; ok && !better(key, old) {
				continue
			}
			err := tx.PutKeyBackupSession(ctx, userID, version, storage.KeyBackupSession{
				RoomID:            roomID,
				SessionID:         sessionID,
				FirstMessageIndex: key.FirstMessageIndex,
				ForwardedCount:    key.ForwardedCount,
				IsVerified:        key.IsVerified,
				SessionData:       key.SessionData,
			}, ts)
			if err != nil {
				return false, err
			}
			changed = true
		}
	}
	return changed, nil
}

// better reports whether key should replace the stored key of the same session, by the rules
// of "Server-side key backups": the verified key wins; between two equally verified keys the
// one with the lower first_message_index; if those are equal too, the one with the lower
// forwarded_count. A key no better than the stored one leaves it in place.
func better(key KeyData, stored storage.KeyBackupSession) bool {
	if key.IsVerified != stored.IsVerified {
		return key.IsVerified
	}
	if key.FirstMessageIndex != stored.FirstMessageIndex {
		return key.FirstMessageIndex < stored.FirstMessageIndex
	}
	return key.ForwardedCount < stored.ForwardedCount
}

// Keys returns the backed-up keys of userID's backup version (which need not be the current
// one): all rooms' when roomID is "", else that room's (an empty map when it has none). It
// answers M_NOT_FOUND when the version does not exist.
func (b *Backups) Keys(ctx context.Context, userID id.UserID, version string, roomID id.RoomID) (map[id.RoomID]RoomKeys, error) {
	v, err := b.version(ctx, b.db, userID, version)
	if err != nil {
		return nil, err
	}
	sessions, err := b.db.KeyBackupSessions(ctx, userID, v.Version, roomID)
	if err != nil {
		return nil, err
	}
	out := map[id.RoomID]RoomKeys{}
	for _, s := range sessions {
		room, ok := out[s.RoomID]
		if !ok {
			room = RoomKeys{Sessions: map[id.SessionID]KeyData{}}
			out[s.RoomID] = room
		}
		room.Sessions[s.SessionID] = keyData(s)
	}
	return out, nil
}

// SessionKey returns the backed-up key of one session in userID's backup version, or
// M_NOT_FOUND when the version or the key does not exist.
func (b *Backups) SessionKey(ctx context.Context, userID id.UserID, version string, roomID id.RoomID, sessionID id.SessionID) (KeyData, error) {
	v, err := b.version(ctx, b.db, userID, version)
	if err != nil {
		return KeyData{}, err
	}
	s, err := b.db.KeyBackupSessionOf(ctx, userID, v.Version, roomID, sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return KeyData{}, mxerr.NotFound.WithMessage("Key not found")
	}
	if err != nil {
		return KeyData{}, err
	}
	return keyData(s), nil
}

// DeleteKeys deletes backed-up keys from userID's backup version (which need not be the current
// one): all of them (roomID ""), one room's (sessionID "") or one session's. It answers
// M_NOT_FOUND when the version does not exist. The etag changes when a key was deleted.
func (b *Backups) DeleteKeys(ctx context.Context, userID id.UserID, version string, roomID id.RoomID, sessionID id.SessionID) (KeysUpdate, error) {
	var out KeysUpdate
	err := b.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockKeyBackups(ctx, userID); err != nil {
			return err
		}
		v, err := b.version(ctx, tx, userID, version)
		if err != nil {
			return err
		}
		n, err := tx.DeleteKeyBackupSessions(ctx, userID, v.Version, roomID, sessionID)
		if err != nil {
			return err
		}
		out, err = b.keysUpdate(ctx, tx, userID, v.Version, n > 0)
		return err
	})
	return out, err
}

// keysUpdate bumps the version's etag when its keys changed and returns its etag and count.
func (b *Backups) keysUpdate(ctx context.Context, tx *storage.Tx, userID id.UserID, version int64, changed bool) (KeysUpdate, error) {
	if changed {
		if err := tx.BumpKeyBackupETag(ctx, userID, version); err != nil {
			return KeysUpdate{}, err
		}
	}
	v, err := tx.KeyBackupVersionOf(ctx, userID, version)
	if err != nil {
		return KeysUpdate{}, err
	}
	return KeysUpdate{ETag: formatETag(v.ETag), Count: v.Count}, nil
}

// versionReader is what version reads from: the database or a transaction.
type versionReader interface {
	KeyBackupVersionOf(ctx context.Context, userID id.UserID, version int64) (storage.KeyBackupVersion, error)
}

// version returns one of userID's backups by its version string, or M_NOT_FOUND.
func (b *Backups) version(ctx context.Context, r versionReader, userID id.UserID, version string) (storage.KeyBackupVersion, error) {
	n, ok := parseVersion(version)
	if !ok {
		return storage.KeyBackupVersion{}, errUnknownVersion
	}
	v, err := r.KeyBackupVersionOf(ctx, userID, n)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.KeyBackupVersion{}, errUnknownVersion
	}
	return v, err
}

// checkVersionBody checks the algorithm and auth_data of a backup version's creation or update.
func checkVersionBody(algorithm string, authData json.RawMessage) error {
	if algorithm == "" {
		return mxerr.MissingParam.WithMessage("algorithm is required")
	}
	if len(authData) == 0 || string(authData) == "null" {
		return mxerr.MissingParam.WithMessage("auth_data is required")
	}
	if !isObject(authData) {
		return mxerr.BadJSON.WithMessage("auth_data must be an object")
	}
	return nil
}

// checkRooms checks the keys of a PUT /room_keys/keys request.
func checkRooms(rooms map[id.RoomID]RoomKeys) error {
	for roomID, room := range rooms {
		// As web.PathRoomID checks room IDs in paths: a '!' sigil, and at most 255 bytes
		// (content/appendices.md, "Identifier Grammar").
		if len(roomID) < 2 || roomID[0] != '!' || len(roomID) > 255 {
			return mxerr.InvalidParam.WithMessage("%q is not a valid room ID", roomID)
		}
		for sessionID, key := range room.Sessions {
			if err := checkKey(sessionID, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKey checks one session's key as a client uploads it.
func checkKey(sessionID id.SessionID, key KeyData) error {
	switch {
	case sessionID == "":
		return mxerr.InvalidParam.WithMessage("A session ID is empty")
	case key.FirstMessageIndex < 0:
		return mxerr.InvalidParam.WithMessage("first_message_index of session %s is negative", sessionID)
	case key.ForwardedCount < 0:
		return mxerr.InvalidParam.WithMessage("forwarded_count of session %s is negative", sessionID)
	case !isObject(key.SessionData):
		return mxerr.BadJSON.WithMessage("session_data of session %s must be an object", sessionID)
	}
	return nil
}

// isObject reports whether raw, valid JSON, is an object.
func isObject(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

func keyData(s storage.KeyBackupSession) KeyData {
	return KeyData{
		FirstMessageIndex: s.FirstMessageIndex,
		ForwardedCount:    s.ForwardedCount,
		IsVerified:        s.IsVerified,
		SessionData:       s.SessionData,
	}
}

// parseVersion reads a version string as this server writes it (a decimal number from 1, no
// sign, no leading zeros). Any other string names no backup.
func parseVersion(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || formatVersion(n) != s {
		return 0, false
	}
	return n, true
}

func formatVersion(n int64) string { return strconv.FormatInt(n, 10) }

func formatETag(n int64) string { return strconv.FormatInt(n, 10) }
