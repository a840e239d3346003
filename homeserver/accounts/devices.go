package accounts

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Device is one of a user's devices (data/api/client-server/device_management.yaml).
type Device struct {
	UserID      id.UserID
	ID          id.DeviceID
	DisplayName string
	// LastSeen is when the device last made a request, to the minute (see Authenticate).
	LastSeen   time.Time
	LastSeenIP string
}

func deviceOf(d storage.Device) Device {
	return Device{UserID: d.UserID, ID: d.DeviceID, DisplayName: d.DisplayName,
		LastSeen: time.UnixMilli(d.LastSeenTS), LastSeenIP: d.LastSeenIP}
}

var errUnknownDevice = mxerr.NotFound.WithMessage("Unknown device")

// Devices lists the user's devices, ordered by ID.
func (s *Service) Devices(ctx context.Context, userID id.UserID) ([]Device, error) {
	rows, err := s.db.DevicesOfUser(ctx, userID)
	if err != nil {
		return nil, opError("devices", err)
	}
	out := make([]Device, 0, len(rows))
	for _, d := range rows {
		out = append(out, deviceOf(d))
	}
	return out, nil
}

// Device returns one of the user's devices; M_NOT_FOUND if the user has no such device.
func (s *Service) Device(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (Device, error) {
	d, err := s.db.DeviceByID(ctx, userID, deviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return Device{}, errUnknownDevice
	}
	if err != nil {
		return Device{}, opError("device", err)
	}
	return deviceOf(d), nil
}

// RenameDevice sets a device's display name; "" clears it. M_NOT_FOUND if the user has no such
// device; a name over MaxDeviceDisplayName characters is M_INVALID_PARAM.
func (s *Service) RenameDevice(ctx context.Context, userID id.UserID, deviceID id.DeviceID, name string) error {
	if utf8.RuneCountInString(name) > MaxDeviceDisplayName {
		return mxerr.InvalidParam.WithMessage("Device display name may not be longer than %d characters", MaxDeviceDisplayName)
	}
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		return tx.UpdateDeviceName(ctx, userID, deviceID, name, s.nowMS())
	})
	if errors.Is(err, storage.ErrNotFound) {
		return errUnknownDevice
	}
	if err != nil {
		return opError("rename device", err)
	}
	s.devicesChanged(ctx, userID)
	return nil
}

// DeleteDevices deletes the user's devices with the given IDs, and so their tokens, in one
// transaction, with their keys (storage.Tx.DeleteDevice), and records the change of the user's
// device list. IDs the user has no device for are ignored: the spec answers 200 for a device
// "removed previously".
func (s *Service) DeleteDevices(ctx context.Context, userID id.UserID, deviceIDs []id.DeviceID) error {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		for _, d := range deviceIDs {
			if err := tx.DeleteDevice(ctx, userID, d, s.nowMS()); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return opError("delete devices", err)
	}
	if len(deviceIDs) > 0 {
		s.forgetDevices(userID, deviceIDs...)
		s.devicesChanged(ctx, userID)
	}
	return nil
}

// CreateDevice creates a device with no access token, for an application service managing its
// users' devices itself (MSC4190: PUT /devices/{deviceId} creates the device). An existing
// device is renamed instead; created reports which happened.
func (s *Service) CreateDevice(ctx context.Context, userID id.UserID, deviceID id.DeviceID, name string) (created bool, err error) {
	if err := checkDeviceID(deviceID); err != nil {
		return false, err
	}
	if utf8.RuneCountInString(name) > MaxDeviceDisplayName {
		return false, mxerr.InvalidParam.WithMessage("Device display name may not be longer than %d characters", MaxDeviceDisplayName)
	}
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.DeviceByID(ctx, userID, deviceID); err == nil {
			return tx.UpdateDeviceName(ctx, userID, deviceID, name, s.nowMS())
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		created = true
		return tx.UpsertDevice(ctx, storage.Device{UserID: userID, DeviceID: deviceID, DisplayName: name, CreatedTS: s.nowMS()})
	})
	if err == nil && !created {
		s.devicesChanged(ctx, userID)
	}
	return created, opError("create device", err)
}
