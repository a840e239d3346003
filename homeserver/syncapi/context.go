package syncapi

import (
	"context"
	"slices"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// ContextRequest is one GET /rooms/{roomId}/context/{eventId} (data/api/client-server/event_context.yaml).
type ContextRequest struct {
	UserID   id.UserID
	DeviceID id.DeviceID
	RoomID   id.RoomID
	EventID  id.EventID
	Limit    int // events before and after together; negative means the default
	Filter   *mautrix.FilterPart
}

// ContextResponse is the body of /context.
type ContextResponse struct {
	Start        string               `json:"start"`
	End          string               `json:"end"`
	EventsBefore []*rooms.ClientEvent `json:"events_before"`
	Event        *rooms.ClientEvent   `json:"event"`
	EventsAfter  []*rooms.ClientEvent `json:"events_after"`
	State        []*rooms.ClientEvent `json:"state"`
}

// defaultContextLimit is /context's limit when the client gives none.
const defaultContextLimit = 10

// Context returns an event the user may see with the events around it in the room's
// topological order, half of the limit before it and half after, and the room's state at the
// last event returned, with /messages tokens to page on from either end. The filter applies to
// the events around and to the state, not to the event itself; with lazy_load_members the
// state holds only the senders' member events.
func (s *Service) Context(ctx context.Context, req ContextRequest) (*ContextResponse, error) {
	ev, err := s.rooms.VisibleEvent(ctx, req.RoomID, req.EventID, req.UserID)
	if err != nil {
		return nil, err
	}
	membership, err := s.rooms.Membership(ctx, req.RoomID, req.UserID)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit < 0 {
		limit = defaultContextLimit
	}
	limit = min(limit, maxMessagesLimit)
	at := storage.TopoPos{Depth: ev.Depth, StreamPos: ev.StreamPos}
	before, err := s.db.RoomEventsBefore(ctx, req.RoomID, at, limit/2)
	if err != nil {
		return nil, err
	}
	after, err := s.db.RoomEventsFrom(ctx, req.RoomID, storage.TopoPos{Depth: at.Depth, StreamPos: at.StreamPos + 1}, limit-limit/2)
	if err != nil {
		return nil, err
	}
	resp := &ContextResponse{Start: contextStart(at, before).String(), End: contextEnd(at, after).String()}
	if before, err = s.visibleMatching(ctx, req, membership, before); err != nil {
		return nil, err
	}
	if after, err = s.visibleMatching(ctx, req, membership, after); err != nil {
		return nil, err
	}
	state, err := s.contextState(ctx, req, ev, before, after)
	if err != nil {
		return nil, err
	}
	return s.renderContext(ctx, req, resp, ev, before, after, state)
}

// contextStart is the token just before the oldest event of before (newest first), or just
// before the event at when there is none.
func contextStart(at storage.TopoPos, before []*storage.Event) TopoToken {
	if len(before) > 0 {
		oldest := before[len(before)-1]
		return TopoToken{storage.TopoPos{Depth: oldest.Depth, StreamPos: oldest.StreamPos}}
	}
	return TopoToken{at}
}

// contextEnd is the token just after the newest event of after (oldest first), or just after
// the event at when there is none.
func contextEnd(at storage.TopoPos, after []*storage.Event) TopoToken {
	if len(after) > 0 {
		newest := after[len(after)-1]
		return TopoToken{storage.TopoPos{Depth: newest.Depth, StreamPos: newest.StreamPos + 1}}
	}
	return TopoToken{storage.TopoPos{Depth: at.Depth, StreamPos: at.StreamPos + 1}}
}

// visibleMatching keeps the events the user may see that the request's filter lets through.
func (s *Service) visibleMatching(ctx context.Context, req ContextRequest, membership string, evs []*storage.Event) ([]*storage.Event, error) {
	evs, err := s.rooms.VisibleEvents(ctx, req.UserID, membership, evs)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(evs, func(ev *storage.Event) bool { return !MatchEvent(req.Filter, filterEvent(ev, req.Filter)) }), nil
}

// contextState is the room's state at the last event returned (the newest after the event,
// or the event), filtered; with lazy_load_members only the member events of the senders.
func (s *Service) contextState(ctx context.Context, req ContextRequest, ev *storage.Event, before, after []*storage.Event) ([]*storage.Event, error) {
	last := ev
	if len(after) > 0 {
		last = after[len(after)-1]
	}
	st, err := s.rooms.StateAfter(ctx, last)
	if err != nil {
		return nil, err
	}
	keep := func(storage.StateKey) bool { return true }
	if req.Filter != nil && req.Filter.LazyLoadMembers {
		senders := map[string]bool{string(ev.Sender): true}
		for _, e := range slices.Concat(before, after) {
			senders[string(e.Sender)] = true
		}
		keep = func(k storage.StateKey) bool { return k.Type != event.StateMember.Type || senders[k.StateKey] }
	}
	evs, err := s.rooms.StateEvents(ctx, st, keep)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(evs, func(e *storage.Event) bool { return !MatchEvent(req.Filter, filterEvent(e, req.Filter)) }), nil
}

// renderContext formats the events of a /context answer into resp.
func (s *Service) renderContext(ctx context.Context, req ContextRequest, resp *ContextResponse, ev *storage.Event, before, after, state []*storage.Event) (*ContextResponse, error) {
	fmtReq := Request{UserID: req.UserID, DeviceID: req.DeviceID}
	var err error
	if resp.EventsBefore, err = s.render(ctx, fmtReq, before, false); err != nil {
		return nil, err
	}
	if resp.EventsAfter, err = s.render(ctx, fmtReq, after, false); err != nil {
		return nil, err
	}
	if resp.State, err = s.render(ctx, fmtReq, state, false); err != nil {
		return nil, err
	}
	one, err := s.render(ctx, fmtReq, []*storage.Event{ev}, false)
	if err != nil {
		return nil, err
	}
	if len(one) != 1 {
		return nil, mxerr.NotFound.WithMessage("event %s not found", ev.ID)
	}
	resp.Event = one[0]
	return resp, nil
}
