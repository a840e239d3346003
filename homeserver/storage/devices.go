package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Device is one login session of a user.
type Device struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	DisplayName string
	CreatedTS   int64
	LastSeenTS  int64
	LastSeenIP  string
}

const (
	upsertDevice = `INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip)
		VALUES ($1, $2, $3, $4, $4, $5)
		ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_ts = excluded.last_seen_ts, last_seen_ip = excluded.last_seen_ip`
	selectDevices = `SELECT user_id, device_id, COALESCE(display_name, ''), created_ts, last_seen_ts, last_seen_ip
		FROM devices WHERE user_id = $1 ORDER BY device_id`
	selectDevice = `SELECT user_id, device_id, COALESCE(display_name, ''), created_ts, last_seen_ts, last_seen_ip
		FROM devices WHERE user_id = $1 AND device_id = $2`
	updateDeviceName = `UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2`
	touchDevice      = `UPDATE devices SET last_seen_ts = $3, last_seen_ip = CASE WHEN $4 = '' THEN last_seen_ip ELSE $4 END
		WHERE user_id = $1 AND device_id = $2`
	deleteDevice       = `DELETE FROM devices WHERE user_id = $1 AND device_id = $2 RETURNING device_id`
	deleteAllDevices   = `DELETE FROM devices WHERE user_id = $1 RETURNING device_id`
	deleteOtherDevices = `DELETE FROM devices WHERE user_id = $1 AND device_id <> $2 RETURNING device_id`
)

// UpsertDevice creates the device, or on re-login with the same ID refreshes its last-seen time
// and address. The display name of an existing device is kept: initial_device_display_name is
// "ignored if device_id corresponds to a known device" (data/api/client-server/login.yaml).
func (c conn) UpsertDevice(ctx context.Context, d Device) error {
	_, err := c.q.Exec(ctx, upsertDevice, d.UserID, d.DeviceID, nullIfEmpty(d.DisplayName), d.CreatedTS, d.LastSeenIP)
	if err != nil {
		return fmt.Errorf("upsert device %s/%s: %w", d.UserID, d.DeviceID, err)
	}
	return nil
}

// DevicesOfUser lists a user's devices ordered by ID.
func (c conn) DevicesOfUser(ctx context.Context, userID id.UserID) ([]Device, error) {
	rows, err := c.q.Query(ctx, selectDevices, userID)
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		if err := rows.Scan(&d.UserID, &d.DeviceID, &d.DisplayName, &d.CreatedTS, &d.LastSeenTS, &d.LastSeenIP); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeviceByID returns one device, or ErrNotFound.
func (c conn) DeviceByID(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (Device, error) {
	var d Device
	err := c.q.QueryRow(ctx, selectDevice, userID, deviceID).Scan(&d.UserID, &d.DeviceID, &d.DisplayName,
		&d.CreatedTS, &d.LastSeenTS, &d.LastSeenIP)
	if err != nil {
		return Device{}, fmt.Errorf("device %s/%s: %w", userID, deviceID, err)
	}
	return d, nil
}

// UpdateDeviceName renames a device and records a change of the user's device list (the
// name shows in /keys/query); ErrNotFound if it does not exist. ts is the time (Unix ms).
func (tx *Tx) UpdateDeviceName(ctx context.Context, userID id.UserID, deviceID id.DeviceID, name string, ts int64) error {
	if err := tx.expectOne(ctx, "rename device", updateDeviceName, userID, deviceID, nullIfEmpty(name)); err != nil {
		return err
	}
	_, err := tx.AddDeviceListChange(ctx, userID, deviceID, ts)
	return err
}

// TouchDevice records when and from where the device was last seen; an empty ip keeps the last
// known address.
func (c conn) TouchDevice(ctx context.Context, userID id.UserID, deviceID id.DeviceID, ts int64, ip string) error {
	_, err := c.q.Exec(ctx, touchDevice, userID, deviceID, ts, ip)
	return err
}

// DeleteDevice removes a device together with its tokens and keys, and records the change of
// the user's device list; ErrNotFound if it does not exist. ts is the time (Unix ms).
func (tx *Tx) DeleteDevice(ctx context.Context, userID id.UserID, deviceID id.DeviceID, ts int64) error {
	n, err := tx.deleteDevices(ctx, userID, ts, deleteDevice, userID, deviceID)
	if err == nil && n == 0 {
		err = fmt.Errorf("delete device %s/%s: %w", userID, deviceID, ErrNotFound)
	}
	return err
}

// DeleteAllDevices removes every device of the user, and so every token and device key.
func (tx *Tx) DeleteAllDevices(ctx context.Context, userID id.UserID, ts int64) error {
	_, err := tx.deleteDevices(ctx, userID, ts, deleteAllDevices, userID)
	return err
}

// DeleteDevicesExcept removes every device of the user but keep, and so their tokens and
// keys. It reports how many it removed.
func (tx *Tx) DeleteDevicesExcept(ctx context.Context, userID id.UserID, keep id.DeviceID, ts int64) (int64, error) {
	return tx.deleteDevices(ctx, userID, ts, deleteOtherDevices, userID, keep)
}

// deleteDevices runs a DELETE of devices returning their IDs, then deletes the signatures
// uploaded for their keys (which have no foreign key to the device: see key_signatures) and
// records a device-list change for each. Everything else of a device (tokens, keys, pushers)
// goes by foreign-key cascade.
func (tx *Tx) deleteDevices(ctx context.Context, userID id.UserID, ts int64, query string, args ...any) (int64, error) {
	deleted, err := queryList[id.DeviceID](ctx, tx.q, query, args...)
	if err != nil {
		return 0, fmt.Errorf("delete devices of %s: %w", userID, err)
	}
	for _, d := range deleted {
		if err := tx.DeleteKeySignatures(ctx, userID, string(d)); err != nil {
			return 0, err
		}
		if _, err := tx.AddDeviceListChange(ctx, userID, d, ts); err != nil {
			return 0, err
		}
	}
	return int64(len(deleted)), nil
}
