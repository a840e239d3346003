package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// DehydratedDevice marks a user's dehydrated device (MSC3814): a row of devices no one is
// logged in on, with the client's encrypted pickle of it.
type DehydratedDevice struct {
	UserID     id.UserID
	DeviceID   id.DeviceID
	DeviceData json.RawMessage // a JSON object, opaque to the server
}

const (
	selectDehydratedDevice = `SELECT user_id, device_id, device_data FROM dehydrated_devices WHERE user_id = $1`
	insertDehydratedDevice = `INSERT INTO dehydrated_devices (user_id, device_id, device_data, created_ts) VALUES ($1, $2, $3, $4)`
)

// DehydratedDeviceOf returns the user's dehydrated device, or ErrNotFound.
func (c conn) DehydratedDeviceOf(ctx context.Context, userID id.UserID) (DehydratedDevice, error) {
	var d DehydratedDevice
	var data string
	if err := c.q.QueryRow(ctx, selectDehydratedDevice, userID).Scan(&d.UserID, &d.DeviceID, &data); err != nil {
		return DehydratedDevice{}, fmt.Errorf("dehydrated device of %s: %w", userID, err)
	}
	d.DeviceData = json.RawMessage(data)
	return d, nil
}

// InsertDehydratedDevice marks d.DeviceID, a device the caller has created in the same
// transaction, as the user's dehydrated device; ts is the time (Unix ms). The user must have
// none (delete the old device first): a concurrent insert for the same user is ErrConflict.
func (tx *Tx) InsertDehydratedDevice(ctx context.Context, d DehydratedDevice, ts int64) error {
	if _, err := tx.q.Exec(ctx, insertDehydratedDevice, d.UserID, d.DeviceID, string(d.DeviceData), ts); err != nil {
		return fmt.Errorf("mark dehydrated device %s/%s: %w", d.UserID, d.DeviceID, err)
	}
	return nil
}
