package storage

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// AppserviceStream is where one appservice's delivery stands.
type AppserviceStream struct {
	AppserviceID   string
	DeliveredPos   int64
	NextTxnID      int64
	LastSuccessTS  int64
	LastError      string
	LastErrorTS    int64
	ToDevicePos    int64 // the to-device messages at or below this position were delivered
	DeviceListsPos int64 // the device-list changes at or below this position were delivered
}

// AppserviceTxn is an appservice's transaction in flight.
type AppserviceTxn struct {
	AppserviceID    string
	TxnID           int64
	UptoPos         int64
	Body            []byte
	EventCount      int64
	CreatedTS       int64
	ToDeviceUpto    int64 // delivering this transaction delivers the to-device messages up to here
	DeviceListsUpto int64 // and the device-list changes up to here
}

const (
	// A new appservice starts at the current end of the stream: registering a bridge does not
	// replay the server's history into it.
	insertAppserviceStream = `INSERT INTO appservice_streams (appservice_id, delivered_pos, created_ts)
		VALUES ($1, $2, $3) ON CONFLICT (appservice_id) DO NOTHING`
	selectAppserviceStream = `SELECT appservice_id, delivered_pos, next_txn_id, last_success_ts, last_error, last_error_ts, to_device_pos, device_lists_pos
		FROM appservice_streams WHERE appservice_id = $1`
	selectAppserviceTxn = `SELECT appservice_id, txn_id, upto_pos, body, event_count, created_ts, to_device_upto, device_lists_upto
		FROM appservice_txns WHERE appservice_id = $1`
	insertAppserviceTxn = `INSERT INTO appservice_txns (appservice_id, txn_id, upto_pos, body, event_count, created_ts, to_device_upto, device_lists_upto)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	// The transaction's to-device messages leave the queue once it is delivered.
	advanceAppserviceToDevice    = `UPDATE appservice_streams SET to_device_pos = $2 WHERE appservice_id = $1 AND to_device_pos < $2`
	advanceAppserviceDeviceLists = `UPDATE appservice_streams SET device_lists_pos = $2 WHERE appservice_id = $1 AND device_lists_pos < $2`
	deleteAppserviceToDevice     = `DELETE FROM to_device_messages WHERE stream_pos <= $2
		AND user_id IN (SELECT user_id FROM users WHERE appservice_id = $1)`
	bumpAppserviceTxnID = `UPDATE appservice_streams SET next_txn_id = next_txn_id + 1 WHERE appservice_id = $1`
	deleteAppserviceTxn = `DELETE FROM appservice_txns WHERE appservice_id = $1 AND txn_id = $2`
	advanceAppservice   = `UPDATE appservice_streams SET delivered_pos = $2, last_success_ts = $3 WHERE appservice_id = $1`
	failAppservice      = `UPDATE appservice_streams SET last_error = $2, last_error_ts = $3 WHERE appservice_id = $1`
	insertGrant         = `INSERT INTO appservice_grants (user_id, appservice_id, created_ts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	deleteGrant         = `DELETE FROM appservice_grants WHERE user_id = $1 AND appservice_id = $2`
	selectGrant         = `SELECT 1 FROM appservice_grants WHERE user_id = $1 AND appservice_id = $2`
	selectGrantsOfUser  = `SELECT appservice_id FROM appservice_grants WHERE user_id = $1 ORDER BY appservice_id`
)

// EnsureAppserviceStream creates the appservice's cursor at startPos unless it exists, and
// returns the cursor.
func (c conn) EnsureAppserviceStream(ctx context.Context, appserviceID string, startPos, nowTS int64) (AppserviceStream, error) {
	if _, err := c.q.Exec(ctx, insertAppserviceStream, appserviceID, startPos, nowTS); err != nil {
		return AppserviceStream{}, fmt.Errorf("create appservice stream %s: %w", appserviceID, err)
	}
	var s AppserviceStream
	err := c.q.QueryRow(ctx, selectAppserviceStream, appserviceID).Scan(&s.AppserviceID, &s.DeliveredPos, &s.NextTxnID,
		&s.LastSuccessTS, &s.LastError, &s.LastErrorTS, &s.ToDevicePos, &s.DeviceListsPos)
	if err != nil {
		return AppserviceStream{}, fmt.Errorf("appservice stream %s: %w", appserviceID, err)
	}
	return s, nil
}

// AppserviceTxnInFlight returns the transaction waiting to be (re)sent, or ErrNotFound.
func (c conn) AppserviceTxnInFlight(ctx context.Context, appserviceID string) (AppserviceTxn, error) {
	var t AppserviceTxn
	err := c.q.QueryRow(ctx, selectAppserviceTxn, appserviceID).Scan(&t.AppserviceID, &t.TxnID, &t.UptoPos, &t.Body, &t.EventCount, &t.CreatedTS, &t.ToDeviceUpto, &t.DeviceListsUpto)
	if err != nil {
		return AppserviceTxn{}, fmt.Errorf("appservice txn of %s: %w", appserviceID, err)
	}
	return t, nil
}

// InsertAppserviceTxn stores a new transaction with the appservice's next transaction ID,
// which it consumes, and returns it.
func (tx *Tx) InsertAppserviceTxn(ctx context.Context, t AppserviceTxn) (AppserviceTxn, error) {
	var s AppserviceStream
	err := tx.q.QueryRow(ctx, selectAppserviceStream, t.AppserviceID).Scan(&s.AppserviceID, &s.DeliveredPos, &s.NextTxnID,
		&s.LastSuccessTS, &s.LastError, &s.LastErrorTS, &s.ToDevicePos, &s.DeviceListsPos)
	if err != nil {
		return AppserviceTxn{}, fmt.Errorf("appservice stream %s: %w", t.AppserviceID, err)
	}
	t.TxnID = s.NextTxnID
	if _, err := tx.q.Exec(ctx, bumpAppserviceTxnID, t.AppserviceID); err != nil {
		return AppserviceTxn{}, err
	}
	if _, err := tx.q.Exec(ctx, insertAppserviceTxn, t.AppserviceID, t.TxnID, t.UptoPos, t.Body, t.EventCount, t.CreatedTS, t.ToDeviceUpto, t.DeviceListsUpto); err != nil {
		return AppserviceTxn{}, fmt.Errorf("insert appservice txn: %w", err)
	}
	return t, nil
}

// CompleteAppserviceTxn records a delivered transaction: it is removed, the cursor moves to
// its end, the to-device messages it carried leave the queue, and the device-list cursor
// moves past the changes it carried. It returns ErrNotFound if
// the transaction was already completed.
func (tx *Tx) CompleteAppserviceTxn(ctx context.Context, t AppserviceTxn, nowTS int64) error {
	if err := tx.expectOne(ctx, "complete appservice txn", deleteAppserviceTxn, t.AppserviceID, t.TxnID); err != nil {
		return err
	}
	if err := tx.expectOne(ctx, "advance appservice stream", advanceAppservice, t.AppserviceID, t.UptoPos, nowTS); err != nil {
		return err
	}
	if _, err := tx.q.Exec(ctx, advanceAppserviceDeviceLists, t.AppserviceID, t.DeviceListsUpto); err != nil {
		return fmt.Errorf("advance appservice device lists: %w", err)
	}
	if t.ToDeviceUpto == 0 {
		return nil
	}
	if _, err := tx.q.Exec(ctx, advanceAppserviceToDevice, t.AppserviceID, t.ToDeviceUpto); err != nil {
		return fmt.Errorf("advance appservice to-device: %w", err)
	}
	if _, err := tx.q.Exec(ctx, deleteAppserviceToDevice, t.AppserviceID, t.ToDeviceUpto); err != nil {
		return fmt.Errorf("delete delivered to-device messages: %w", err)
	}
	return nil
}

// AdvanceAppserviceStream moves the cursor over events that interest the appservice not at all.
func (c conn) AdvanceAppserviceStream(ctx context.Context, appserviceID string, pos, nowTS int64) error {
	return c.expectOne(ctx, "advance appservice stream", advanceAppservice, appserviceID, pos, nowTS)
}

// AdvanceAppserviceToDevice moves the appservice's to-device cursor over messages that are
// not for its users.
func (c conn) AdvanceAppserviceToDevice(ctx context.Context, appserviceID string, pos int64) error {
	_, err := c.q.Exec(ctx, advanceAppserviceToDevice, appserviceID, pos)
	return err
}

// AdvanceAppserviceDeviceLists moves the appservice's device-list cursor over changes that do
// not concern it.
func (c conn) AdvanceAppserviceDeviceLists(ctx context.Context, appserviceID string, pos int64) error {
	_, err := c.q.Exec(ctx, advanceAppserviceDeviceLists, appserviceID, pos)
	return err
}

// KeyCounts are devices' one-time-key counts by algorithm and unused fallback key types, by
// user and device.
type KeyCounts struct {
	OneTimeKeys  map[id.UserID]map[id.DeviceID]map[string]int
	FallbackKeys map[id.UserID]map[id.DeviceID][]string
}

// AppserviceKeyCounts returns the key counts of every device with uploaded keys of the users
// an appservice registered (MSC3202), in three queries whatever the number of devices.
func (c conn) AppserviceKeyCounts(ctx context.Context, appserviceID string) (KeyCounts, error) {
	kc := KeyCounts{OneTimeKeys: map[id.UserID]map[id.DeviceID]map[string]int{}, FallbackKeys: map[id.UserID]map[id.DeviceID][]string{}}
	err := c.eachUserDevice(ctx, `SELECT k.user_id, k.device_id, '', 0 FROM device_keys k
		JOIN users u ON u.user_id = k.user_id AND u.appservice_id = $1`, appserviceID, func(u id.UserID, d id.DeviceID, _ string, _ int) {
		if kc.OneTimeKeys[u] == nil {
			kc.OneTimeKeys[u], kc.FallbackKeys[u] = map[id.DeviceID]map[string]int{}, map[id.DeviceID][]string{}
		}
		kc.OneTimeKeys[u][d], kc.FallbackKeys[u][d] = map[string]int{}, []string{}
	})
	if err == nil {
		err = c.eachUserDevice(ctx, `SELECT o.user_id, o.device_id, o.algorithm, COUNT(*) FROM one_time_keys o
			JOIN users u ON u.user_id = o.user_id AND u.appservice_id = $1 GROUP BY o.user_id, o.device_id, o.algorithm`,
			appserviceID, func(u id.UserID, d id.DeviceID, algorithm string, n int) {
				if counts := kc.OneTimeKeys[u][d]; counts != nil {
					counts[algorithm] = n
				}
			})
	}
	if err == nil {
		err = c.eachUserDevice(ctx, `SELECT f.user_id, f.device_id, f.algorithm, 0 FROM fallback_keys f
			JOIN users u ON u.user_id = f.user_id AND u.appservice_id = $1 WHERE NOT f.used ORDER BY f.algorithm`,
			appserviceID, func(u id.UserID, d id.DeviceID, algorithm string, _ int) {
				if types, ok := kc.FallbackKeys[u][d]; ok {
					kc.FallbackKeys[u][d] = append(types, algorithm)
				}
			})
	}
	if err != nil {
		return KeyCounts{}, fmt.Errorf("key counts of appservice %s: %w", appserviceID, err)
	}
	return kc, nil
}

// eachUserDevice runs a query selecting a user ID, a device ID, a string and a number, and
// calls fn with each row.
func (c conn) eachUserDevice(ctx context.Context, query string, arg any, fn func(id.UserID, id.DeviceID, string, int)) error {
	rows, err := c.q.Query(ctx, query, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var u id.UserID
		var d id.DeviceID
		var s string
		var n int
		if err := rows.Scan(&u, &d, &s, &n); err != nil {
			return err
		}
		fn(u, d, s, n)
	}
	return rows.Err()
}

// RecordAppserviceError notes a failed delivery attempt for status reports.
func (c conn) RecordAppserviceError(ctx context.Context, appserviceID, msg string, nowTS int64) error {
	_, err := c.q.Exec(ctx, failAppservice, appserviceID, msg, nowTS)
	return err
}

// InsertAppserviceGrant records that userID lets the appservice act as them.
func (c conn) InsertAppserviceGrant(ctx context.Context, userID id.UserID, appserviceID string, nowTS int64) error {
	_, err := c.q.Exec(ctx, insertGrant, userID, appserviceID, nowTS)
	return err
}

// DeleteAppserviceGrant revokes a grant; ErrNotFound if there was none.
func (c conn) DeleteAppserviceGrant(ctx context.Context, userID id.UserID, appserviceID string) error {
	return c.expectOne(ctx, "revoke appservice grant", deleteGrant, userID, appserviceID)
}

// HasAppserviceGrant reports whether userID lets the appservice act as them.
func (c conn) HasAppserviceGrant(ctx context.Context, userID id.UserID, appserviceID string) (bool, error) {
	var one int
	err := c.q.QueryRow(ctx, selectGrant, userID, appserviceID).Scan(&one)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// AppserviceGrantsOfUser lists the appservices the user lets act as them.
func (c conn) AppserviceGrantsOfUser(ctx context.Context, userID id.UserID) ([]string, error) {
	return queryList[string](ctx, c.q, selectGrantsOfUser, userID)
}
