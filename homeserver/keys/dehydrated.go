package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Dehydrated devices (MSC3814, proposals/3814-dehydrated-devices-with-ssss.md in
// matrix-org/matrix-spec-proposals; not in the spec yet). A client parks a device in the
// user's account that no one is logged in on, with its keys, so that other users' clients
// encrypt room keys to it while the user has no other device; at the user's next login the
// client fetches the pickle of the device (device_data, encrypted with a key in secret
// storage), reads the device's to-device queue and decrypts the room keys. The device is an
// ordinary device (listed by GET /devices, its keys in /keys/query and /keys/claim, its queue
// filled by /sendToDevice); the server only remembers which one it is and never gives it an
// access token.

// DefaultDehydratedEventsLimit and MaxDehydratedEventsLimit bound the to-device messages one
// POST /dehydrated_device/{deviceId}/events answer carries: the default is Synapse's, and the
// cap keeps one answer in the size of a few /sync responses.
const (
	DefaultDehydratedEventsLimit = 100
	MaxDehydratedEventsLimit     = 1000
)

// Dehydration keeps users' dehydrated devices. It is safe for concurrent use.
type Dehydration struct {
	keys *DeviceKeys // stores the device's keys as /keys/upload does; its db and clock are ours
}

// NewDehydration returns the service; it stores through keys, whose database it shares.
func NewDehydration(keys *DeviceKeys) *Dehydration {
	return &Dehydration{keys: keys}
}

// DehydrateRequest is the body of PUT /dehydrated_device: the device and its keys, which are
// the keys of a /keys/upload request.
type DehydrateRequest struct {
	DeviceID    id.DeviceID     `json:"device_id"`
	DeviceData  json.RawMessage `json:"device_data"`
	DisplayName string          `json:"initial_device_display_name"`
	UploadRequest
}

// Put creates the user's dehydrated device with its keys in one transaction, replacing (and
// deleting, with its keys and queue) the dehydrated device the user had. The device keys are
// required and checked as /keys/upload checks them; device_data must be an object with an
// algorithm. The device ID may be the old dehydrated device's but no other device's of the
// user: a device someone is logged in on never becomes a dehydrated one.
func (s *Dehydration) Put(ctx context.Context, userID id.UserID, req DehydrateRequest) (id.DeviceID, error) {
	if err := checkDehydrateRequest(req); err != nil {
		return "", err
	}
	up, err := parseUpload(userID, req.DeviceID, req.UploadRequest)
	if err != nil {
		return "", err
	}
	data, err := canonicalData(req.DeviceData)
	if err != nil {
		return "", err
	}
	now := s.keys.nowMS()
	err = s.keys.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := deleteDehydrated(ctx, tx, userID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if _, err := tx.DeviceByID(ctx, userID, req.DeviceID); err == nil {
			return mxerr.InvalidParam.WithMessage("%s is already one of your devices; a dehydrated device needs a new device ID", req.DeviceID)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		err := tx.UpsertDevice(ctx, storage.Device{UserID: userID, DeviceID: req.DeviceID, DisplayName: req.DisplayName, CreatedTS: now})
		if err != nil {
			return err
		}
		d := storage.DehydratedDevice{UserID: userID, DeviceID: req.DeviceID, DeviceData: data}
		if err := tx.InsertDehydratedDevice(ctx, d, now); err != nil {
			return err
		}
		_, err = up.store(ctx, tx, now)
		return err
	})
	if err != nil {
		return "", err
	}
	s.keys.changed(ctx, userID)
	s.keys.log.InfoContext(ctx, "dehydrated device stored", "user_id", userID, "device_id", req.DeviceID)
	return req.DeviceID, nil
}

// checkDehydrateRequest checks what PUT /dehydrated_device requires beyond the keys.
func checkDehydrateRequest(req DehydrateRequest) error {
	switch {
	case req.DeviceID == "":
		return mxerr.MissingParam.WithMessage("device_id is required")
	case len(req.DeviceID) > accounts.MaxDeviceIDBytes:
		return mxerr.InvalidParam.WithMessage("device_id may not be longer than %d bytes", accounts.MaxDeviceIDBytes)
	case len(req.DeviceData) == 0 || string(req.DeviceData) == "null":
		return mxerr.MissingParam.WithMessage("device_data is required")
	case len(req.DeviceKeys) == 0 || string(req.DeviceKeys) == "null":
		// MSC3814 uploads the device with its keys so that there is no dehydrated device
		// others cannot encrypt to.
		return mxerr.MissingParam.WithMessage("device_keys is required")
	case utf8.RuneCountInString(req.DisplayName) > accounts.MaxDeviceDisplayName:
		return mxerr.InvalidParam.WithMessage("initial_device_display_name may not be longer than %d characters", accounts.MaxDeviceDisplayName)
	}
	return nil
}

// canonicalData checks that device_data is an object with a string algorithm and returns it
// compacted.
func canonicalData(raw json.RawMessage) (json.RawMessage, error) {
	var data struct {
		Algorithm *string `json:"algorithm"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, mxerr.BadJSON.WithMessage("device_data must be an object with a string algorithm")
	}
	if data.Algorithm == nil || *data.Algorithm == "" {
		return nil, mxerr.MissingParam.WithMessage("device_data.algorithm is required")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, mxerr.BadJSON.WithMessage("device_data: %v", err)
	}
	return buf.Bytes(), nil
}

// errNoDehydratedDevice answers GET and DELETE /dehydrated_device for a user without one.
var errNoDehydratedDevice = mxerr.NotFound.WithMessage("No dehydrated device available")

// Get returns the user's dehydrated device; M_NOT_FOUND when there is none.
func (s *Dehydration) Get(ctx context.Context, userID id.UserID) (storage.DehydratedDevice, error) {
	d, err := s.keys.db.DehydratedDeviceOf(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return d, errNoDehydratedDevice
	}
	return d, err
}

// Delete deletes the user's dehydrated device with its keys and queue and returns its ID;
// M_NOT_FOUND when there is none.
func (s *Dehydration) Delete(ctx context.Context, userID id.UserID) (id.DeviceID, error) {
	var deviceID id.DeviceID
	err := s.keys.db.InTx(ctx, func(tx *storage.Tx) (err error) {
		deviceID, err = deleteDehydrated(ctx, tx, userID, s.keys.nowMS())
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return "", errNoDehydratedDevice
	}
	if err != nil {
		return "", err
	}
	s.keys.changed(ctx, userID)
	return deviceID, nil
}

// deleteDehydrated deletes the user's dehydrated device in tx, as any device is deleted (its
// keys, queue and mark go with it, and the device-list change is recorded), and returns its
// ID; ErrNotFound when there is none.
func deleteDehydrated(ctx context.Context, tx *storage.Tx, userID id.UserID, now int64) (id.DeviceID, error) {
	d, err := tx.DehydratedDeviceOf(ctx, userID)
	if err != nil {
		return "", err
	}
	return d.DeviceID, tx.DeleteDevice(ctx, userID, d.DeviceID, now)
}

// ToDeviceEvent is a to-device message as the dehydrated device's events carry it, in the
// form of /sync's to_device events.
type ToDeviceEvent struct {
	Sender  id.UserID       `json:"sender"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// DehydratedEvents is the body of a POST /dehydrated_device/{deviceId}/events answer.
type DehydratedEvents struct {
	Events    []ToDeviceEvent `json:"events"`
	NextBatch string          `json:"next_batch"`
}

// Events returns up to limit of the to-device messages of the user's dehydrated device after
// the position nextBatch names ("" for the start), and the next_batch of the next call. The
// last batch is followed by a call answering no events, which tells the client it has them
// all. M_FORBIDDEN unless deviceID is the user's dehydrated device (Synapse's answer, also
// when the user has none); a nextBatch this server did not make is M_INVALID_PARAM.
//
// Unlike /sync, a later call deletes nothing: MSC3814 keeps the messages so that a rehydration
// that is interrupted (its device logged out, its app closed) can be started over by another
// device. They go with the device when it is replaced or deleted, which a client does once
// it has rehydrated it, or when the to-device purge reaches their age.
func (s *Dehydration) Events(ctx context.Context, userID id.UserID, deviceID id.DeviceID, nextBatch string, limit int) (DehydratedEvents, error) {
	d, err := s.keys.db.DehydratedDeviceOf(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return DehydratedEvents{}, mxerr.Forbidden.WithMessage("You have no dehydrated device")
	}
	if err != nil {
		return DehydratedEvents{}, err
	}
	if d.DeviceID != deviceID {
		return DehydratedEvents{}, mxerr.Forbidden.WithMessage("You may only fetch the messages of your dehydrated device")
	}
	after, err := parseNextBatch(nextBatch)
	if err != nil {
		return DehydratedEvents{}, err
	}
	limit = min(max(limit, 1), MaxDehydratedEventsLimit)
	// No upper bound is needed: positions are taken under the counter's lock and committed
	// in order, so no message can appear later below the last one read.
	msgs, err := s.keys.db.ToDeviceMessages(ctx, userID, deviceID, after, math.MaxInt64, limit)
	if err != nil {
		return DehydratedEvents{}, err
	}
	out := DehydratedEvents{Events: make([]ToDeviceEvent, len(msgs)), NextBatch: strconv.FormatInt(after, 10)}
	for i, m := range msgs {
		out.Events[i] = ToDeviceEvent{Sender: m.Sender, Type: m.Type, Content: m.Content}
		out.NextBatch = strconv.FormatInt(m.StreamPos, 10)
	}
	return out, nil
}

// parseNextBatch reads a next_batch token: the to-device position of the last message a
// batch carried.
func parseNextBatch(token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	pos, err := strconv.ParseInt(token, 10, 64)
	if err != nil || pos < 0 {
		return 0, mxerr.InvalidParam.WithMessage("next_batch %q is not a token this server gave", token)
	}
	return pos, nil
}
