package appservice

import (
	"context"
	"encoding/json"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// maxToDevicePerTxn bounds the to-device messages one transaction carries; the rest ride with
// the next.
const maxToDevicePerTxn = 100

// toDeviceEvent is a to-device message in a transaction (MSC4203): the event as a device would
// receive it, with the recipient.
type toDeviceEvent struct {
	Type       string          `json:"type"`
	Sender     id.UserID       `json:"sender"`
	Content    json.RawMessage `json:"content"`
	ToUserID   id.UserID       `json:"to_user_id"`
	ToDeviceID id.DeviceID     `json:"to_device_id"`
}

// WakeDevice implements keys.DeviceWaker: a to-device message was queued, which may be for a
// user of an appservice that receives them. It never blocks.
func (s *Sender) WakeDevice(id.UserID, id.DeviceID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if w.reg.ReceiveToDevice {
			w.nudge()
		}
	}
}

// takeToDevice reads the next to-device messages for the users the appservice registered,
// after those delivered, and how far they reach: the transaction that carries them takes them
// out of the queue when it is delivered. A batch cut by the limit ends before the position it
// was cut in, so that the messages of one request (which share a position) travel together;
// a request larger than the limit travels alone.
func (w *worker) takeToDevice(ctx context.Context) ([]toDeviceEvent, int64, error) {
	after := w.st.stream.ToDevicePos
	if !w.reg.ReceiveToDevice {
		return nil, after, nil
	}
	head, err := w.s.db.Counter(ctx, "to_device")
	if err != nil || head <= after {
		return nil, after, err
	}
	msgs, err := w.s.db.ToDeviceForAppservice(ctx, w.reg.ID, after, head, maxToDevicePerTxn)
	if err != nil {
		return nil, after, err
	}
	upto := head
	if len(msgs) == maxToDevicePerTxn {
		last := msgs[len(msgs)-1].StreamPos
		upto = last - 1
		for len(msgs) > 0 && msgs[len(msgs)-1].StreamPos == last {
			msgs = msgs[:len(msgs)-1]
		}
		if len(msgs) == 0 {
			upto = last
			if msgs, err = w.s.db.ToDeviceForAppservice(ctx, w.reg.ID, last-1, last, int(^uint(0)>>1)); err != nil {
				return nil, after, err
			}
		}
	}
	if len(msgs) == 0 { // messages for other users only: move past them for good
		if err := w.s.db.AdvanceAppserviceToDevice(ctx, w.reg.ID, upto); err != nil {
			return nil, after, err
		}
		w.update(func(st *workerState) { st.stream.ToDevicePos = upto })
	}
	return renderToDevice(msgs), upto, nil
}

func renderToDevice(msgs []storage.ToDeviceMessage) []toDeviceEvent {
	out := make([]toDeviceEvent, len(msgs))
	for i, m := range msgs {
		out[i] = toDeviceEvent{Type: m.Type, Sender: m.Sender, Content: m.Content, ToUserID: m.UserID, ToDeviceID: m.DeviceID}
	}
	return out
}
