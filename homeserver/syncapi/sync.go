package syncapi

import (
	"context"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// Request is one GET /sync.
type Request struct {
	UserID    id.UserID
	DeviceID  id.DeviceID
	Since     *StreamToken // nil for an initial sync
	FullState bool
	Filter    mautrix.Filter
	Timeout   time.Duration
	// SetPresence is the presence the sync sets: online (the default, ""), unavailable, or
	// offline, which leaves presence alone.
	SetPresence string
}

// Sync answers a sync request. An incremental request with nothing new waits up to Timeout for
// an event, typing or a receipt in the user's rooms, a change of their account data, of the
// presence or the device list of someone in their rooms, or a to-device message for the
// requesting device, then answers with whatever arrived (possibly nothing).
// The sync counts for the user's presence as set_presence says.
func (s *Service) Sync(ctx context.Context, req Request) (*Response, error) {
	setPresence := req.SetPresence
	if setPresence == "" {
		setPresence = presenceOnline
	}
	ended, err := s.syncStarted(ctx, req.UserID, setPresence)
	defer ended()
	if err != nil {
		return nil, err
	}
	if req.Since == nil || req.Timeout <= 0 || req.FullState {
		return s.compute(ctx, req)
	}
	memberships, err := s.db.RoomsOfUser(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	watched := make([]id.RoomID, 0, len(memberships))
	for roomID := range memberships {
		watched = append(watched, roomID)
	}
	l := s.notifier.ListenDevice(req.UserID, req.DeviceID, watched)
	defer l.Close()
	resp, err := s.compute(ctx, req)
	if err != nil || !resp.empty() {
		return resp, err
	}
	timer := time.NewTimer(req.Timeout)
	defer timer.Stop()
	select {
	case <-l.C:
	case <-timer.C:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.compute(ctx, req)
}

// compute assembles one response from the database (and the typing tracker) as it is now.
func (s *Service) compute(ctx context.Context, req Request) (*Response, error) {
	upto, err := s.positions(ctx)
	if err != nil {
		return nil, err
	}
	w := &streamWindow{upto: upto}
	if req.Since != nil {
		w.since = StreamToken{
			Events:      min(req.Since.Events, upto.Events),
			Typing:      req.Since.Typing,
			Receipts:    min(req.Since.Receipts, upto.Receipts),
			AccountData: min(req.Since.AccountData, upto.AccountData),
			Presence:    min(req.Since.Presence, upto.Presence),
			ToDevice:    min(req.Since.ToDevice, upto.ToDevice),
			DeviceLists: min(req.Since.DeviceLists, upto.DeviceLists),
		}
		if w.since.Typing > upto.Typing {
			// A token from before a restart that outran the new positions: send every
			// room's typing as if the token had none.
			w.since.Typing = 0
		}
		if w.receipts, err = s.receiptsSince(ctx, req.UserID, w.since.Receipts, upto.Receipts); err != nil {
			return nil, err
		}
	}
	if w.accountData, err = s.accountDataSince(ctx, req, w.since.AccountData, upto.AccountData); err != nil {
		return nil, err
	}
	block, err := s.roomsStream(ctx, req, w.since.Events, upto.Events, w)
	if err != nil {
		return nil, err
	}
	presence, err := s.presenceSince(ctx, req, w.since.Presence, upto.Presence)
	if err != nil {
		return nil, err
	}
	// The token carries the to-device position the response reached, which is short of upto
	// when the device's queue held more than one response may carry.
	next := upto
	toDevice, toDevicePos, err := s.toDeviceSince(ctx, req.UserID, req.DeviceID, w.since.ToDevice, upto.ToDevice)
	if err != nil {
		return nil, err
	}
	next.ToDevice = toDevicePos
	resp := &Response{
		NextBatch:   next.String(),
		AccountData: EventsBlock{Events: globalAccountData(req, w.accountData)},
		Presence:    EventsBlock{Events: presence},
		ToDevice:    EventsBlock{Events: toDevice},
	}
	if !block.empty() {
		resp.Rooms = block
	}
	if req.Since != nil {
		if resp.DeviceLists, err = s.deviceListsSince(ctx, req.UserID, w.since, upto); err != nil {
			return nil, err
		}
	}
	if err := s.deviceKeyCounts(ctx, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// positions returns the current position of every stream. The typing position is read
// before anything else: a typing change after it shows in this response and again in the
// next, never in neither.
func (s *Service) positions(ctx context.Context) (StreamToken, error) {
	t := StreamToken{Typing: s.typing.position()}
	c, err := s.db.Counters(ctx, "events", "receipts", "account_data", "presence", "to_device", "device_lists")
	if err != nil {
		return StreamToken{}, err
	}
	t.Events, t.Receipts, t.AccountData, t.Presence = c["events"], c["receipts"], c["account_data"], c["presence"]
	t.ToDevice, t.DeviceLists = c["to_device"], c["device_lists"]
	return t, nil
}

func emptyEvents() EventsBlock { return EventsBlock{Events: []any{}} }
