package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Send-to-device messaging (content/client-server-api/modules/send_to_device.md): a client
// sends a message to devices of users, which each device receives exactly once in /sync.
// A message for a local device goes into that device's persisted queue (storage
// to_device_messages) at a position of the "to_device" stream; homeserver/syncapi hands the
// queue out and deletes what a later sync token acknowledges. A message for a user of another
// server goes into the outbox as part of an m.direct_to_device EDU for that server, which the
// federation sender, once there is one, takes from it in order.

// MaxToDeviceEventBytes bounds one message as a device receives it (sender, type and content
// as JSON). The spec sets no limit of its own; this is the limit of a PDU
// (content/client-server-api/_index.md, "Size limits"), far above what E2EE clients send (an
// Olm-encrypted room key is about 2 KB), and it keeps every message deliverable over
// federation. A larger message is M_TOO_LARGE.
const MaxToDeviceEventBytes = 65536

// AllDevices is the device ID that addresses every device of a user (to_device.yaml).
const AllDevices id.DeviceID = "*"

// DeviceWaker wakes the /sync long polls of one device. WakeDevice must not block.
type DeviceWaker interface {
	WakeDevice(userID id.UserID, deviceID id.DeviceID)
}

// ToDevice sends send-to-device messages.
type ToDevice struct {
	db         *storage.DB
	serverName string
	waker      DeviceWaker
	log        *slog.Logger
	now        func() time.Time
}

// ToDeviceOptions configures ToDevice.
type ToDeviceOptions struct {
	ServerName string      // this server's name: users of other servers go to the outbox
	Waker      DeviceWaker // wakes the recipients' long polls
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// NewToDevice returns the send-to-device service over db.
func NewToDevice(db *storage.DB, opts ToDeviceOptions) *ToDevice {
	s := &ToDevice{db: db, serverName: opts.ServerName, waker: opts.Waker, log: opts.Log, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// SendToDevice is one PUT /sendToDevice request (data/api/client-server/to_device.yaml).
type SendToDevice struct {
	Sender       id.UserID
	SenderDevice id.DeviceID // the device whose transaction ID TxnID is; "" for an appservice without one
	Type         string
	TxnID        string
	// Messages maps user IDs to device IDs (or AllDevices) to message contents, JSON objects.
	Messages map[id.UserID]map[id.DeviceID]json.RawMessage
}

// Send queues req's messages, all in one transaction, and wakes the local recipients' long
// polls. A retried transaction ID (the same device, event type and ID) stores nothing and
// succeeds, as the first attempt did.
//
// A message to AllDevices goes to every device the user has now; a message to one of their
// devices by ID replaces it for that device, so that each device gets at most one message of
// a request, as the spec requires ("Only one message can be sent to each device per
// transaction"). Users and devices that do not exist are skipped without an error, as the
// spec defines none and the sender cannot know which devices were deleted since it looked.
// A user ID that is not one is M_INVALID_PARAM, content that is not a JSON object M_BAD_JSON,
// and a message over MaxToDeviceEventBytes M_TOO_LARGE; then nothing is stored.
func (s *ToDevice) Send(ctx context.Context, req SendToDevice) error {
	if err := s.check(&req); err != nil {
		return err
	}
	local, remote := s.split(req.Messages)
	now := s.now().UnixMilli()
	var queued []storage.ToDeviceMessage
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		queued = nil
		fresh, err := tx.ClaimToDeviceTxn(ctx, req.Sender, req.SenderDevice, req.Type, req.TxnID, now)
		if err != nil || !fresh {
			return err
		}
		msgs, err := localMessages(ctx, tx, req, local)
		if err != nil || len(msgs) == 0 && len(remote) == 0 {
			return err
		}
		// Taken last: the counter row stays locked until commit.
		pos, err := tx.NextCounter(ctx, "to_device")
		if err != nil {
			return err
		}
		for i := range msgs {
			msgs[i].StreamPos = pos
			if err := tx.InsertToDeviceMessage(ctx, msgs[i], now); err != nil {
				return err
			}
		}
		if err := queueRemote(ctx, tx, req, remote, pos, now); err != nil {
			return err
		}
		queued = msgs
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range queued {
		s.waker.WakeDevice(m.UserID, m.DeviceID)
	}
	if len(queued) > 0 || len(remote) > 0 {
		s.log.DebugContext(ctx, "queued to-device messages", "user_id", req.Sender, "type", req.Type,
			"txn_id", req.TxnID, "local_devices", len(queued), "remote_servers", len(remote))
	}
	return nil
}

// check validates req and compacts its contents.
func (s *ToDevice) check(req *SendToDevice) error {
	if req.Type == "" {
		return mxerr.InvalidParam.WithMessage("the event type is empty")
	}
	if req.TxnID == "" {
		return mxerr.InvalidParam.WithMessage("the transaction ID is empty")
	}
	for userID, devices := range req.Messages {
		if _, _, err := userID.Parse(); err != nil || len(userID) > 255 {
			return mxerr.InvalidParam.WithMessage("%q in messages is not a user ID", userID)
		}
		for deviceID, content := range devices {
			compact, err := checkContent(req.Sender, req.Type, userID, deviceID, content)
			if err != nil {
				return err
			}
			devices[deviceID] = compact
		}
	}
	return nil
}

// checkContent checks one message and returns its content compacted.
func checkContent(sender id.UserID, typ string, userID id.UserID, deviceID id.DeviceID, content json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, content); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, mxerr.BadJSON.WithMessage("the message for %s's device %s is not a JSON object", userID, deviceID)
	}
	ev, err := json.Marshal(struct {
		Sender  id.UserID       `json:"sender"`
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
	}{sender, typ, buf.Bytes()})
	if err != nil {
		return nil, err
	}
	if len(ev) > MaxToDeviceEventBytes {
		return nil, mxerr.TooLarge.WithMessage("the message for %s's device %s is %d bytes, more than %d", userID, deviceID, len(ev), MaxToDeviceEventBytes)
	}
	return buf.Bytes(), nil
}

// split divides messages into those for local users and those for each other server.
func (s *ToDevice) split(messages map[id.UserID]map[id.DeviceID]json.RawMessage) (local map[id.UserID]map[id.DeviceID]json.RawMessage, remote map[string]map[id.UserID]map[id.DeviceID]json.RawMessage) {
	local = map[id.UserID]map[id.DeviceID]json.RawMessage{}
	remote = map[string]map[id.UserID]map[id.DeviceID]json.RawMessage{}
	for userID, devices := range messages {
		if len(devices) == 0 {
			continue
		}
		server := userID.Homeserver()
		if server == s.serverName {
			local[userID] = devices
			continue
		}
		if remote[server] == nil {
			remote[server] = map[id.UserID]map[id.DeviceID]json.RawMessage{}
		}
		remote[server][userID] = devices
	}
	return local, remote
}

// localMessages resolves the local recipients to the devices that exist, one message each.
func localMessages(ctx context.Context, tx *storage.Tx, req SendToDevice, local map[id.UserID]map[id.DeviceID]json.RawMessage) ([]storage.ToDeviceMessage, error) {
	var out []storage.ToDeviceMessage
	for userID, byDevice := range local {
		devices, err := tx.DevicesOfUser(ctx, userID)
		if err != nil {
			return nil, err
		}
		for _, d := range devices {
			content, ok := byDevice[d.DeviceID]
			if !ok {
				content, ok = byDevice[AllDevices]
			}
			if ok {
				out = append(out, storage.ToDeviceMessage{UserID: userID, DeviceID: d.DeviceID, Sender: req.Sender, Type: req.Type, Content: content})
			}
		}
	}
	return out, nil
}

// directToDevice is the content of an m.direct_to_device EDU
// (data/api/server-server/definitions/event-schemas/m.direct_to_device.yaml).
type directToDevice struct {
	Sender    id.UserID                                     `json:"sender"`
	Type      string                                        `json:"type"`
	MessageID string                                        `json:"message_id"`
	Messages  map[id.UserID]map[id.DeviceID]json.RawMessage `json:"messages"`
}

// queueRemote puts one EDU for each other server into the outbox, at pos. The recipients'
// devices, AllDevices included, are resolved by their own server.
func queueRemote(ctx context.Context, tx *storage.Tx, req SendToDevice, remote map[string]map[id.UserID]map[id.DeviceID]json.RawMessage, pos, now int64) error {
	for server, messages := range remote {
		// message_id makes the EDU idempotent at the receiver; at most 32 codepoints.
		content, err := json.Marshal(directToDevice{Sender: req.Sender, Type: req.Type, MessageID: rand.Text(), Messages: messages})
		if err != nil {
			return err
		}
		if err := tx.InsertToDeviceEDU(ctx, storage.ToDeviceEDU{Destination: server, StreamPos: pos, Content: content}, now); err != nil {
			return err
		}
	}
	return nil
}
