package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// DeviceKeys is the device_keys object a device uploaded, with the device's display name.
type DeviceKeys struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	KeyJSON     json.RawMessage // as signed by the device, without unsigned
	DisplayName string
}

// OneTimeKey is a one-time or fallback key of a device, as the device signed it.
type OneTimeKey struct {
	UserID    id.UserID
	DeviceID  id.DeviceID
	Algorithm string // "signed_curve25519"
	KeyID     string // the part after the algorithm in "<algorithm>:<key_id>"
	KeyJSON   json.RawMessage
}

const (
	selectDeviceKeys = `SELECT key_json FROM device_keys WHERE user_id = $1 AND device_id = $2`
	upsertDeviceKeys = `INSERT INTO device_keys (user_id, device_id, key_json, created_ts) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`
	selectDeviceKeysOfUser = `SELECT k.user_id, k.device_id, k.key_json, COALESCE(d.display_name, '')
		FROM device_keys k JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
		WHERE k.user_id = $1 ORDER BY k.device_id`

	insertOneTimeKey = `INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, key_json, upload_seq, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, device_id, algorithm, key_id) DO NOTHING`
	selectOneTimeKey = `SELECT key_json FROM one_time_keys
		WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4`
	countOneTimeKeys = `SELECT algorithm, COUNT(*) FROM one_time_keys WHERE user_id = $1 AND device_id = $2
		GROUP BY algorithm ORDER BY algorithm`
	// claimOneTimeKey deletes the device's oldest key of the algorithm and returns it. On
	// PostgreSQL, concurrent claims each lock a different row (SKIP LOCKED) instead of all
	// picking the same oldest one; on SQLite the transaction holds the only writer, so no
	// other claim runs in between.
	claimOneTimeKeyPostgres = `DELETE FROM one_time_keys WHERE (user_id, device_id, algorithm, key_id) IN (
			SELECT user_id, device_id, algorithm, key_id FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND algorithm = $3
			ORDER BY upload_seq, key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING key_id, key_json`
	claimOneTimeKeySQLite = `DELETE FROM one_time_keys WHERE (user_id, device_id, algorithm, key_id) IN (
			SELECT user_id, device_id, algorithm, key_id FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND algorithm = $3
			ORDER BY upload_seq, key_id LIMIT 1)
		RETURNING key_id, key_json`

	// upsertFallbackKey replaces the device's fallback key of the algorithm. Uploading the same
	// key again keeps it marked used: it was handed out all the same.
	upsertFallbackKey = `INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key_json, used, created_ts)
		VALUES ($1, $2, $3, $4, $5, FALSE, $6)
		ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json,
			created_ts = excluded.created_ts,
			used = CASE WHEN fallback_keys.key_id = excluded.key_id AND fallback_keys.key_json = excluded.key_json
				THEN fallback_keys.used ELSE FALSE END`
	claimFallbackKey = `UPDATE fallback_keys SET used = TRUE WHERE user_id = $1 AND device_id = $2 AND algorithm = $3
		RETURNING key_id, key_json`
	selectUnusedFallbackTypes = `SELECT algorithm FROM fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used
		ORDER BY algorithm`
)

// DeviceKeysOf returns the device_keys object the device uploaded, or ErrNotFound.
func (c conn) DeviceKeysOf(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (json.RawMessage, error) {
	var s string
	if err := c.q.QueryRow(ctx, selectDeviceKeys, userID, deviceID).Scan(&s); err != nil {
		return nil, fmt.Errorf("device keys of %s/%s: %w", userID, deviceID, err)
	}
	return json.RawMessage(s), nil
}

// PutDeviceKeys stores the device's device_keys object, replacing the one it had. ts is the
// time of the upload (Unix ms).
func (tx *Tx) PutDeviceKeys(ctx context.Context, userID id.UserID, deviceID id.DeviceID, keyJSON json.RawMessage, ts int64) error {
	if _, err := tx.q.Exec(ctx, upsertDeviceKeys, userID, deviceID, string(keyJSON), ts); err != nil {
		return fmt.Errorf("put device keys of %s/%s: %w", userID, deviceID, err)
	}
	return nil
}

// DeviceKeysOfUser returns the device keys of every device of the user that uploaded some,
// ordered by device ID.
func (c conn) DeviceKeysOfUser(ctx context.Context, userID id.UserID) ([]DeviceKeys, error) {
	rows, err := c.q.Query(ctx, selectDeviceKeysOfUser, userID)
	if err != nil {
		return nil, fmt.Errorf("device keys of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []DeviceKeys
	for rows.Next() {
		var k DeviceKeys
		var s string
		if err := rows.Scan(&k.UserID, &k.DeviceID, &s, &k.DisplayName); err != nil {
			return nil, fmt.Errorf("device keys of %s: %w", userID, err)
		}
		k.KeyJSON = json.RawMessage(s)
		out = append(out, k)
	}
	return out, rows.Err()
}

// InsertOneTimeKey stores a one-time key with the upload's sequence number (from the
// "one_time_key_uploads" counter). A key ID the device already has keeps its key: the
// existing key is returned, so that the caller can tell a repeated upload from a conflicting
// one; existing is nil when k was stored.
func (tx *Tx) InsertOneTimeKey(ctx context.Context, k OneTimeKey, seq, ts int64) (existing json.RawMessage, err error) {
	n, err := tx.q.Exec(ctx, insertOneTimeKey, k.UserID, k.DeviceID, k.Algorithm, k.KeyID, string(k.KeyJSON), seq, ts)
	if err != nil {
		return nil, fmt.Errorf("insert one-time key %s:%s: %w", k.Algorithm, k.KeyID, err)
	}
	if n == 1 {
		return nil, nil
	}
	var s string
	if err := tx.q.QueryRow(ctx, selectOneTimeKey, k.UserID, k.DeviceID, k.Algorithm, k.KeyID).Scan(&s); err != nil {
		return nil, fmt.Errorf("one-time key %s:%s: %w", k.Algorithm, k.KeyID, err)
	}
	return json.RawMessage(s), nil
}

// OneTimeKeyCounts returns how many unclaimed one-time keys the device has, by algorithm.
func (c conn) OneTimeKeyCounts(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (map[string]int, error) {
	rows, err := c.q.Query(ctx, countOneTimeKeys, userID, deviceID)
	if err != nil {
		return nil, fmt.Errorf("count one-time keys: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var alg string
		var n int
		if err := rows.Scan(&alg, &n); err != nil {
			return nil, fmt.Errorf("count one-time keys: %w", err)
		}
		out[alg] = n
	}
	return out, rows.Err()
}

// ClaimOneTimeKey deletes and returns the device's oldest one-time key of the algorithm, or
// ErrNotFound when it has none left. Once the transaction commits, no other claim can return
// the same key, however many run at once.
func (tx *Tx) ClaimOneTimeKey(ctx context.Context, userID id.UserID, deviceID id.DeviceID, algorithm string) (OneTimeKey, error) {
	query := claimOneTimeKeySQLite
	if tx.dialect == Postgres {
		query = claimOneTimeKeyPostgres
	}
	return tx.scanClaimed(ctx, query, userID, deviceID, algorithm)
}

// PutFallbackKey makes k the device's fallback key for its algorithm, unused; the same key
// uploaded again stays as used as it was.
func (tx *Tx) PutFallbackKey(ctx context.Context, k OneTimeKey, ts int64) error {
	if _, err := tx.q.Exec(ctx, upsertFallbackKey, k.UserID, k.DeviceID, k.Algorithm, k.KeyID, string(k.KeyJSON), ts); err != nil {
		return fmt.Errorf("put fallback key %s:%s: %w", k.Algorithm, k.KeyID, err)
	}
	return nil
}

// ClaimFallbackKey marks the device's fallback key of the algorithm used and returns it (it
// stays, to be handed out again until replaced), or ErrNotFound when there is none.
func (tx *Tx) ClaimFallbackKey(ctx context.Context, userID id.UserID, deviceID id.DeviceID, algorithm string) (OneTimeKey, error) {
	return tx.scanClaimed(ctx, claimFallbackKey, userID, deviceID, algorithm)
}

func (tx *Tx) scanClaimed(ctx context.Context, query string, userID id.UserID, deviceID id.DeviceID, algorithm string) (OneTimeKey, error) {
	k := OneTimeKey{UserID: userID, DeviceID: deviceID, Algorithm: algorithm}
	var s string
	if err := tx.q.QueryRow(ctx, query, userID, deviceID, algorithm).Scan(&k.KeyID, &s); err != nil {
		return OneTimeKey{}, fmt.Errorf("claim %s key of %s/%s: %w", algorithm, userID, deviceID, err)
	}
	k.KeyJSON = json.RawMessage(s)
	return k, nil
}

// UnusedFallbackKeyTypes lists the algorithms of the device's fallback keys that no claim
// has handed out yet.
func (c conn) UnusedFallbackKeyTypes(ctx context.Context, userID id.UserID, deviceID id.DeviceID) ([]string, error) {
	return queryList[string](ctx, c.q, selectUnusedFallbackTypes, userID, deviceID)
}
