package syncapi

import (
	"context"
	"errors"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// MessagesRequest is one GET /rooms/{roomId}/messages (data/api/client-server/message_pagination.yaml).
type MessagesRequest struct {
	UserID   id.UserID
	DeviceID id.DeviceID
	RoomID   id.RoomID
	From     string // a /messages token, a /sync next_batch, or "" for the end (dir b) or start (dir f)
	To       string
	Backward bool
	Limit    int
	Filter   *mautrix.FilterPart
}

// MessagesResponse is the body of /messages.
type MessagesResponse struct {
	Start string               `json:"start"`
	End   string               `json:"end,omitzero"`
	Chunk []*rooms.ClientEvent `json:"chunk"`
	State []*rooms.ClientEvent `json:"state,omitempty"`
}

// defaultMessagesLimit and maxMessagesLimit bound a page of /messages.
const (
	defaultMessagesLimit = 10
	maxMessagesLimit     = 1000
)

// readerMembership returns the user's membership of a room they want to read: a member's,
// or "" for a non-member of a world-readable room; anyone else is refused as ViewerState
// refuses them.
func (s *Service) readerMembership(ctx context.Context, roomID id.RoomID, userID id.UserID) (string, error) {
	membership, err := s.rooms.Membership(ctx, roomID, userID)
	if err != nil || membership != "" {
		return membership, err
	}
	_, err = s.rooms.ViewerState(ctx, roomID, userID)
	return "", err
}

// Messages pages through a room's history in topological order.
func (s *Service) Messages(ctx context.Context, req MessagesRequest) (*MessagesResponse, error) {
	membership, err := s.readerMembership(ctx, req.RoomID, req.UserID)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit <= 0 {
		limit = defaultMessagesLimit
	}
	limit = min(limit, maxMessagesLimit)
	from, err := s.resolveToken(ctx, req.RoomID, req.From, req.Backward)
	if err != nil {
		return nil, err
	}
	var evs []*storage.Event
	if req.Backward {
		evs, err = s.db.RoomEventsBefore(ctx, req.RoomID, from.TopoPos, limit)
	} else {
		evs, err = s.db.RoomEventsFrom(ctx, req.RoomID, from.TopoPos, limit)
	}
	if err != nil {
		return nil, err
	}
	resp := &MessagesResponse{Start: from.String()}
	if len(evs) == limit {
		last := evs[len(evs)-1]
		end := TopoToken{storage.TopoPos{Depth: last.Depth, StreamPos: last.StreamPos}}
		if !req.Backward {
			end.StreamPos++
		}
		resp.End = end.String()
	}
	if req.To != "" {
		to, err := s.resolveToken(ctx, req.RoomID, req.To, req.Backward)
		if err != nil {
			return nil, err
		}
		evs = cutAt(evs, to.TopoPos, req.Backward)
	}
	if evs, err = s.rooms.VisibleEvents(ctx, req.UserID, membership, evs); err != nil {
		return nil, err
	}
	kept := evs[:0:0]
	for _, ev := range evs {
		if MatchEvent(req.Filter, filterEvent(ev, req.Filter)) {
			kept = append(kept, ev)
		}
	}
	fmtReq := Request{UserID: req.UserID, DeviceID: req.DeviceID}
	if resp.Chunk, err = s.render(ctx, fmtReq, kept, false); err != nil {
		return nil, err
	}
	if req.Filter != nil && req.Filter.LazyLoadMembers {
		members, err := s.senderMembers(ctx, req.RoomID, kept)
		if err != nil {
			return nil, err
		}
		if resp.State, err = s.render(ctx, fmtReq, members, false); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// resolveToken turns a /messages or /sync token into a topological position. "" means the
// live end of the room going backwards and its beginning going forwards.
func (s *Service) resolveToken(ctx context.Context, roomID id.RoomID, token string, backward bool) (TopoToken, error) {
	if t, ok := parseTopoToken(token); ok {
		return t, nil
	}
	var streamPos int64
	switch {
	case token == "" && !backward:
		return TopoToken{}, nil
	case token == "":
		upto, err := s.db.Counter(ctx, "events")
		if err != nil {
			return TopoToken{}, err
		}
		streamPos = upto
	default:
		st, err := ParseStreamToken(token)
		if err != nil {
			return TopoToken{}, mxerr.InvalidParam.WithMessage("invalid pagination token %q", token)
		}
		streamPos = st.Events
	}
	pos, err := s.db.TopoPosAtStream(ctx, roomID, streamPos)
	if errors.Is(err, storage.ErrNotFound) {
		return TopoToken{}, nil
	} else if err != nil {
		return TopoToken{}, err
	}
	pos.StreamPos++ // the gap just after the last event at or before the stream position
	return TopoToken{pos}, nil
}

// cutAt drops the events beyond the to token.
func cutAt(evs []*storage.Event, to storage.TopoPos, backward bool) []*storage.Event {
	for i, ev := range evs {
		pos := storage.TopoPos{Depth: ev.Depth, StreamPos: ev.StreamPos}
		if backward && less(pos, to) || !backward && !less(pos, to) {
			return evs[:i]
		}
	}
	return evs
}

func less(a, b storage.TopoPos) bool {
	return a.Depth < b.Depth || a.Depth == b.Depth && a.StreamPos < b.StreamPos
}

// senderMembers returns the current member events of the senders of evs, for lazy loading.
func (s *Service) senderMembers(ctx context.Context, roomID id.RoomID, evs []*storage.Event) ([]*storage.Event, error) {
	seen := map[id.UserID]bool{}
	var ids []id.EventID
	for _, ev := range evs {
		if seen[ev.Sender] {
			continue
		}
		seen[ev.Sender] = true
		evID, err := s.db.CurrentStateEvent(ctx, roomID, storage.StateKey{Type: event.StateMember.Type, StateKey: string(ev.Sender)})
		if errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		ids = append(ids, evID)
	}
	return s.db.EventsByIDs(ctx, ids)
}
