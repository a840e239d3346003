package syncapi

import (
	"context"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
)

// timestampCandidates is how many events nearest a time /timestamp_to_event considers: the
// first of them the user may see is the answer.
const timestampCandidates = 50

// EventAtTime is the body of /timestamp_to_event.
type EventAtTime struct {
	EventID        id.EventID `json:"event_id"`
	OriginServerTS int64      `json:"origin_server_ts"`
}

// EventNearTime returns the event of a room the user may see that is closest to ts (Unix ms)
// in one direction: the first at or after it (forward) or the last at or before it
// (data/api/client-server/room_event_by_timestamp.yaml). None is M_NOT_FOUND.
func (s *Service) EventNearTime(ctx context.Context, userID id.UserID, roomID id.RoomID, ts int64, forward bool) (EventAtTime, error) {
	membership, err := s.readerMembership(ctx, roomID, userID)
	if err != nil {
		return EventAtTime{}, err
	}
	evs, err := s.db.RoomEventsNearTS(ctx, roomID, ts, forward, timestampCandidates)
	if err != nil {
		return EventAtTime{}, err
	}
	visible, err := s.rooms.VisibleEvents(ctx, userID, membership, evs)
	if err != nil {
		return EventAtTime{}, err
	}
	if len(visible) == 0 {
		return EventAtTime{}, mxerr.NotFound.WithMessage("no event of %s you can see is that close to %d", roomID, ts)
	}
	return EventAtTime{EventID: visible[0].ID, OriginServerTS: visible[0].OriginServerTS}, nil
}
