package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// ToDeviceMessage is a send-to-device message in a local device's queue.
type ToDeviceMessage struct {
	UserID    id.UserID   // the recipient
	DeviceID  id.DeviceID // the recipient's device
	StreamPos int64       // from the "to_device" counter
	Sender    id.UserID
	Type      string
	Content   json.RawMessage // a JSON object
}

// ToDeviceEDU is what waits in the outbox for another server: the content of one
// m.direct_to_device EDU (data/api/server-server/definitions/event-schemas/m.direct_to_device.yaml).
type ToDeviceEDU struct {
	Destination string // the server name of every recipient in Content
	StreamPos   int64  // from the "to_device" counter
	Content     json.RawMessage
}

const (
	insertToDeviceTxn = `INSERT INTO to_device_txns (user_id, device_id, event_type, txn_id, created_ts)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
	insertToDeviceMessage = `INSERT INTO to_device_messages (user_id, device_id, stream_pos, sender, type, content, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	selectToDeviceMessages = `SELECT user_id, device_id, stream_pos, sender, type, content FROM to_device_messages
		WHERE user_id = $1 AND device_id = $2 AND stream_pos > $3 AND stream_pos <= $4 ORDER BY stream_pos LIMIT $5`
	selectOldestToDevicePos = `SELECT COALESCE(MIN(stream_pos), 0) FROM to_device_messages WHERE user_id = $1 AND device_id = $2`
	deleteToDeviceUpTo      = `DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2 AND stream_pos <= $3`
	insertToDeviceOutbox    = `INSERT INTO to_device_outbox (destination, stream_pos, content, created_ts) VALUES ($1, $2, $3, $4)`
	selectToDeviceOutbox    = `SELECT destination, stream_pos, content FROM to_device_outbox
		WHERE destination = $1 AND stream_pos > $2 ORDER BY stream_pos LIMIT $3`
	deleteToDeviceMessagesBefore = `DELETE FROM to_device_messages WHERE created_ts < $1`
	deleteToDeviceTxnsBefore     = `DELETE FROM to_device_txns WHERE created_ts < $1`
	deleteToDeviceOutboxBefore   = `DELETE FROM to_device_outbox WHERE created_ts < $1`
)

// ClaimToDeviceTxn records a device's transaction ID for a /sendToDevice event type and
// reports whether it is new; false means the request is a retry of one already stored. In a
// transaction, a concurrent claim of the same ID waits for this one's commit and then finds it
// taken.
func (tx *Tx) ClaimToDeviceTxn(ctx context.Context, userID id.UserID, deviceID id.DeviceID, eventType, txnID string, ts int64) (bool, error) {
	n, err := tx.q.Exec(ctx, insertToDeviceTxn, userID, deviceID, eventType, txnID, ts)
	if err != nil {
		return false, fmt.Errorf("claim to-device txn %s: %w", txnID, err)
	}
	return n == 1, nil
}

// InsertToDeviceMessage appends m to its device's queue; ts is when it was sent (Unix ms). The
// caller has taken m.StreamPos from NextCounter("to_device") in the same transaction.
func (tx *Tx) InsertToDeviceMessage(ctx context.Context, m ToDeviceMessage, ts int64) error {
	_, err := tx.q.Exec(ctx, insertToDeviceMessage, m.UserID, m.DeviceID, m.StreamPos, m.Sender, m.Type, string(m.Content), ts)
	if err != nil {
		return fmt.Errorf("queue to-device message for %s/%s: %w", m.UserID, m.DeviceID, err)
	}
	return nil
}

// ToDeviceMessages returns up to limit of a device's queued messages in (after, upto], in the
// order they were sent.
func (c conn) ToDeviceMessages(ctx context.Context, userID id.UserID, deviceID id.DeviceID, after, upto int64, limit int) ([]ToDeviceMessage, error) {
	msgs, err := c.queryToDevice(ctx, selectToDeviceMessages, userID, deviceID, after, upto, limit)
	if err != nil {
		return nil, fmt.Errorf("to-device messages of %s/%s: %w", userID, deviceID, err)
	}
	return msgs, nil
}

// queryToDevice runs a query selecting user_id, device_id, stream_pos, sender, type, content
// of to_device_messages.
func (c conn) queryToDevice(ctx context.Context, query string, args ...any) ([]ToDeviceMessage, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ToDeviceMessage
	for rows.Next() {
		var m ToDeviceMessage
		var content string
		if err := rows.Scan(&m.UserID, &m.DeviceID, &m.StreamPos, &m.Sender, &m.Type, &content); err != nil {
			return nil, err
		}
		m.Content = json.RawMessage(content)
		out = append(out, m)
	}
	return out, rows.Err()
}

// OldestToDevicePos returns the position of the oldest message in a device's queue, 0 when the
// queue is empty. It lets /sync skip the write of DeleteToDeviceMessagesUpTo when there is
// nothing to delete.
func (c conn) OldestToDevicePos(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (int64, error) {
	var pos int64
	if err := c.q.QueryRow(ctx, selectOldestToDevicePos, userID, deviceID).Scan(&pos); err != nil {
		return 0, fmt.Errorf("oldest to-device message of %s/%s: %w", userID, deviceID, err)
	}
	return pos, nil
}

// DeleteToDeviceMessagesUpTo removes the device's messages at or below upto, which the device
// has acknowledged, and reports how many it removed.
func (c conn) DeleteToDeviceMessagesUpTo(ctx context.Context, userID id.UserID, deviceID id.DeviceID, upto int64) (int64, error) {
	n, err := c.q.Exec(ctx, deleteToDeviceUpTo, userID, deviceID, upto)
	if err != nil {
		return 0, fmt.Errorf("delete to-device messages of %s/%s: %w", userID, deviceID, err)
	}
	return n, nil
}

// InsertToDeviceEDU puts e in the outbox for its destination; ts is when it was sent (Unix
// ms). The caller has taken e.StreamPos from NextCounter("to_device") in the same transaction.
func (tx *Tx) InsertToDeviceEDU(ctx context.Context, e ToDeviceEDU, ts int64) error {
	if _, err := tx.q.Exec(ctx, insertToDeviceOutbox, e.Destination, e.StreamPos, string(e.Content), ts); err != nil {
		return fmt.Errorf("queue to-device EDU for %s: %w", e.Destination, err)
	}
	return nil
}

// ToDeviceOutbox returns up to limit of the EDUs waiting for destination after position
// after, in order: what a federation sender takes next.
func (c conn) ToDeviceOutbox(ctx context.Context, destination string, after int64, limit int) ([]ToDeviceEDU, error) {
	rows, err := c.q.Query(ctx, selectToDeviceOutbox, destination, after, limit)
	if err != nil {
		return nil, fmt.Errorf("to-device outbox of %s: %w", destination, err)
	}
	defer rows.Close()
	var out []ToDeviceEDU
	for rows.Next() {
		var e ToDeviceEDU
		var content string
		if err := rows.Scan(&e.Destination, &e.StreamPos, &content); err != nil {
			return nil, fmt.Errorf("to-device outbox of %s: %w", destination, err)
		}
		e.Content = json.RawMessage(content)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteToDeviceOlderThan purges what send-to-device messaging keeps from before ts (Unix ms):
// messages that no device collected, EDUs never sent, and the transaction IDs of old requests.
// It reports how many messages and EDUs it removed.
func (tx *Tx) DeleteToDeviceOlderThan(ctx context.Context, ts int64) (int64, error) {
	var total int64
	for _, query := range []string{deleteToDeviceMessagesBefore, deleteToDeviceOutboxBefore, deleteToDeviceTxnsBefore} {
		n, err := tx.q.Exec(ctx, query, ts)
		if err != nil {
			return 0, fmt.Errorf("purge to-device data: %w", err)
		}
		if query != deleteToDeviceTxnsBefore {
			total += n
		}
	}
	return total, nil
}

// ToDeviceForAppservice returns up to limit of the queued messages in (after, upto] of the
// users an appservice registered, in the order they were sent (MSC4203).
func (c conn) ToDeviceForAppservice(ctx context.Context, appserviceID string, after, upto int64, limit int) ([]ToDeviceMessage, error) {
	msgs, err := c.queryToDevice(ctx, `SELECT m.user_id, m.device_id, m.stream_pos, m.sender, m.type, m.content FROM to_device_messages m
		JOIN users u ON u.user_id = m.user_id AND u.appservice_id = $1
		WHERE m.stream_pos > $2 AND m.stream_pos <= $3 ORDER BY m.stream_pos, m.user_id, m.device_id LIMIT $4`, appserviceID, after, upto, limit)
	if err != nil {
		return nil, fmt.Errorf("to-device messages of appservice %s: %w", appserviceID, err)
	}
	return msgs, nil
}
