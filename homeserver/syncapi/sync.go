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
}

// Sync answers a sync request. An incremental request with nothing new waits up to Timeout for
// an event, then answers with whatever arrived (possibly nothing).
func (s *Service) Sync(ctx context.Context, req Request) (*Response, error) {
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
	l := s.notifier.Listen(req.UserID, watched)
	defer l.Close()
	resp, err := s.compute(ctx, req)
	if err != nil || !resp.Rooms.empty() {
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

// compute assembles one response from the database as it is now.
func (s *Service) compute(ctx context.Context, req Request) (*Response, error) {
	upto, err := s.db.Counter(ctx, "events")
	if err != nil {
		return nil, err
	}
	since := int64(0)
	if req.Since != nil {
		since = min(req.Since.Events, upto)
	}
	block, err := s.roomsStream(ctx, req, since, upto)
	if err != nil {
		return nil, err
	}
	resp := &Response{
		NextBatch:   StreamToken{Events: upto}.String(),
		AccountData: emptyEvents(),
		Presence:    emptyEvents(),
		ToDevice:    emptyEvents(),
	}
	if !block.empty() {
		resp.Rooms = block
	}
	return resp, nil
}

func emptyEvents() EventsBlock { return EventsBlock{Events: []any{}} }
