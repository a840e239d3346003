package syncapi

import (
	"context"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
)

// maxPeekEvents bounds the events one peek returns; the next peek continues from end.
const maxPeekEvents = 100

// PeekResponse is the body of GET /events?room_id=… (data/api/client-server/peeking_events.yaml).
type PeekResponse struct {
	Start string               `json:"start"`
	End   string               `json:"end"`
	Chunk []*rooms.ClientEvent `json:"chunk"`
}

// Peek returns the events of a room after the stream token from ("" for now), oldest first,
// waiting up to timeout for one when there is none yet: for users who may read the room
// without being in it (a world-readable room), and for its members.
func (s *Service) Peek(ctx context.Context, userID id.UserID, deviceID id.DeviceID, roomID id.RoomID, from string, timeout time.Duration) (*PeekResponse, error) {
	if _, err := s.rooms.ViewerState(ctx, roomID, userID); err != nil {
		return nil, err
	}
	upto, err := s.db.Counter(ctx, "events")
	if err != nil {
		return nil, err
	}
	since := upto
	if from != "" {
		st, err := ParseStreamToken(from)
		if err != nil {
			return nil, mxerr.InvalidParam.WithMessage("bad pagination token %q", from)
		}
		since = min(st.Events, upto)
	}
	l := s.notifier.Listen(userID, []id.RoomID{roomID})
	defer l.Close()
	resp, err := s.peekOnce(ctx, userID, deviceID, roomID, since)
	if err != nil || len(resp.Chunk) > 0 || timeout <= 0 {
		return resp, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-l.C:
		return s.peekOnce(ctx, userID, deviceID, roomID, since)
	case <-timer.C:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// peekOnce reads the events of a room in (since, now] that the user may see.
func (s *Service) peekOnce(ctx context.Context, userID id.UserID, deviceID id.DeviceID, roomID id.RoomID, since int64) (*PeekResponse, error) {
	upto, err := s.db.Counter(ctx, "events")
	if err != nil {
		return nil, err
	}
	evs, err := s.db.RoomEventsAfter(ctx, roomID, since, upto, maxPeekEvents)
	if err != nil {
		return nil, err
	}
	if len(evs) == maxPeekEvents {
		upto = evs[len(evs)-1].StreamPos // the next peek continues after the last one
	}
	membership, err := s.rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	if evs, err = s.rooms.VisibleEvents(ctx, userID, membership, evs); err != nil {
		return nil, err
	}
	resp := &PeekResponse{Start: StreamToken{Events: since}.String(), End: StreamToken{Events: upto}.String()}
	resp.Chunk, err = s.render(ctx, Request{UserID: userID, DeviceID: deviceID}, evs, false)
	return resp, err
}
