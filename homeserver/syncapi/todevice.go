package syncapi

import (
	"context"
	"encoding/json"

	"maunium.net/go/mautrix/id"
)

// Send-to-device messages (content/client-server-api/modules/send_to_device.md, "Server
// behaviour"): each device's queue, filled by homeserver/keys, at positions of the "to_device"
// stream. A sync hands the device the messages after the position its since token carries;
// a later sync whose token covers them acknowledges them, and they are deleted then. So a
// response that never reached the client is not lost: the retried since token gets the same
// messages again.

// maxToDevicePerSync bounds the messages in one response, as the spec recommends; the rest
// come in the next.
const maxToDevicePerSync = 100

// ToDeviceEvent is a send-to-device message as /sync sends it.
type ToDeviceEvent struct {
	Sender  id.UserID       `json:"sender"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// toDeviceSince deletes the device's messages at or below since, which the client has
// acknowledged by syncing with it, and returns those in (since, upto], at most
// maxToDevicePerSync of them, with the position the next token carries: upto, or the last
// message's when more remain. A request without a device (an appservice's) has no messages.
func (s *Service) toDeviceSince(ctx context.Context, userID id.UserID, deviceID id.DeviceID, since, upto int64) ([]any, int64, error) {
	if deviceID == "" {
		return []any{}, upto, nil
	}
	if since > 0 {
		oldest, err := s.db.OldestToDevicePos(ctx, userID, deviceID)
		if err != nil {
			return nil, 0, err
		}
		if oldest > 0 && oldest <= since {
			if _, err := s.db.DeleteToDeviceMessagesUpTo(ctx, userID, deviceID, since); err != nil {
				return nil, 0, err
			}
		}
	}
	msgs, err := s.db.ToDeviceMessages(ctx, userID, deviceID, since, upto, maxToDevicePerSync)
	if err != nil {
		return nil, 0, err
	}
	next := upto
	if len(msgs) == maxToDevicePerSync {
		next = msgs[len(msgs)-1].StreamPos
	}
	out := make([]any, len(msgs))
	for i, m := range msgs {
		out[i] = ToDeviceEvent{Sender: m.Sender, Type: m.Type, Content: m.Content}
	}
	return out, next, nil
}
