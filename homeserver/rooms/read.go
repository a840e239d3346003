package rooms

import (
	"context"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Membership returns the user's current membership in the room ("" when none).
func (s *Service) Membership(ctx context.Context, roomID id.RoomID, userID id.UserID) (string, error) {
	evID, err := s.db.CurrentStateEvent(ctx, roomID, storage.StateKey{Type: event.StateMember.Type, StateKey: string(userID)})
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return s.stateValue(ctx, evID, "membership")
}

// CurrentState returns the room's current state events.
func (s *Service) CurrentState(ctx context.Context, roomID id.RoomID) ([]*storage.Event, error) {
	entries, err := s.db.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	ids := make([]id.EventID, len(entries))
	for i, e := range entries {
		ids[i] = e.EventID
	}
	return s.db.EventsByIDs(ctx, ids)
}

// StateAfter returns the room state just before ev, plus ev itself when it is a state event.
func (s *Service) StateAfter(ctx context.Context, ev *storage.Event) (State, error) {
	st, err := s.states.StateAt(ctx, s.db, ev.StateBefore)
	if err != nil || !ev.IsState() {
		return st, err
	}
	after := make(State, len(st)+1)
	for k, v := range st {
		after[k] = v
	}
	after[storage.StateKey{Type: ev.Type, StateKey: *ev.StateKey}] = ev.ID
	return after, nil
}

// StateBefore returns the room state just before ev.
func (s *Service) StateBefore(ctx context.Context, ev *storage.Event) (State, error) {
	return s.states.StateAt(ctx, s.db, ev.StateBefore)
}

// StateEvents loads the events of a state map, filtered by keep when it is not nil.
func (s *Service) StateEvents(ctx context.Context, st State, keep func(storage.StateKey) bool) ([]*storage.Event, error) {
	ids := make([]id.EventID, 0, len(st))
	for k, evID := range st {
		if keep == nil || keep(k) {
			ids = append(ids, evID)
		}
	}
	return s.db.EventsByIDs(ctx, ids)
}

// ViewerState returns the state a user may read: the current state while joined (or when the
// history is world readable), the state when they left for former members, M_FORBIDDEN
// otherwise (data/api/client-server/room_state.yaml).
func (s *Service) ViewerState(ctx context.Context, roomID id.RoomID, userID id.UserID) (State, error) {
	room, err := s.db.RoomByID(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.Forbidden.WithMessage("you are not in room %s", roomID)
	} else if err != nil {
		return nil, err
	}
	current, err := s.states.StateAt(ctx, s.db, room.StateSnapshot)
	if err != nil {
		return nil, err
	}
	memberKey := storage.StateKey{Type: event.StateMember.Type, StateKey: string(userID)}
	membership, err := s.stateValue(ctx, current[memberKey], "membership")
	if err != nil {
		return nil, err
	}
	visibility, err := s.stateValue(ctx, current[storage.StateKey{Type: event.StateHistoryVisibility.Type}], "history_visibility")
	if err != nil {
		return nil, err
	}
	switch {
	case membership == string(event.MembershipJoin) || visibility == string(event.HistoryVisibilityWorldReadable):
		return current, nil
	case membership == string(event.MembershipLeave) || membership == string(event.MembershipBan):
		leave, err := s.db.EventByID(ctx, current[memberKey])
		if err != nil {
			return nil, err
		}
		return s.StateAfter(ctx, leave)
	default:
		return nil, mxerr.Forbidden.WithMessage("you are not in room %s", roomID)
	}
}

// StateAtSnapshot returns the full state of a stored snapshot.
func (s *Service) StateAtSnapshot(ctx context.Context, snap storage.SnapshotID) (State, error) {
	return s.states.StateAt(ctx, s.db, snap)
}

// StrippedEvent is a state event reduced for an invitee (stripped state).
type StrippedEvent struct {
	Type     string
	StateKey string
	Sender   id.UserID
	Content  jsontext.Value
}

// strippedStateTypes are the state events an invitee sees before joining
// (content/client-server-api/_index.md, "Stripped state").
var strippedStateTypes = []string{
	event.StateCreate.Type, event.StateJoinRules.Type, event.StateRoomName.Type, event.StateRoomAvatar.Type,
	event.StateCanonicalAlias.Type, event.StateEncryption.Type, event.StateTopic.Type,
}

// StrippedState returns the room's stripped state for an invitee, with their own member event.
func (s *Service) StrippedState(ctx context.Context, roomID id.RoomID, userID id.UserID) ([]StrippedEvent, error) {
	keys := make([]storage.StateKey, 0, len(strippedStateTypes)+1)
	for _, t := range strippedStateTypes {
		keys = append(keys, storage.StateKey{Type: t})
	}
	keys = append(keys, storage.StateKey{Type: event.StateMember.Type, StateKey: string(userID)})
	var ids []id.EventID
	for _, k := range keys {
		evID, err := s.db.CurrentStateEvent(ctx, roomID, k)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		ids = append(ids, evID)
	}
	evs, err := s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]StrippedEvent, 0, len(evs))
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, StrippedEvent{Type: p.Type, StateKey: *p.StateKey, Sender: p.Sender, Content: p.Content})
	}
	return out, nil
}

// Events loads events by ID; unknown IDs are left out.
func (s *Service) Events(ctx context.Context, ids []id.EventID) ([]*storage.Event, error) {
	return s.db.EventsByIDs(ctx, ids)
}

// VisibleEvent returns one event of a room if the user may see it, M_NOT_FOUND otherwise
// (data/api/client-server/rooms.yaml does not tell hidden from missing).
func (s *Service) VisibleEvent(ctx context.Context, roomID id.RoomID, evID id.EventID, userID id.UserID) (*storage.Event, error) {
	notFound := mxerr.NotFound.WithMessage("event %s not found", evID)
	ev, err := s.db.EventByID(ctx, evID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && ev.RoomID != roomID {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	membership, err := s.Membership(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	visible, err := s.VisibleEvents(ctx, userID, membership, []*storage.Event{ev})
	if err != nil {
		return nil, err
	}
	if len(visible) == 0 {
		return nil, notFound
	}
	return ev, nil
}

// MemberProfile is a joined member's room profile.
type MemberProfile struct {
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// JoinedMembers maps the room's joined members to their profiles; only members may ask.
func (s *Service) JoinedMembers(ctx context.Context, roomID id.RoomID, userID id.UserID) (map[id.UserID]MemberProfile, error) {
	if m, err := s.Membership(ctx, roomID, userID); err != nil {
		return nil, err
	} else if m != string(event.MembershipJoin) {
		return nil, mxerr.Forbidden.WithMessage("you are not in room %s", roomID)
	}
	entries, err := s.db.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var ids []id.EventID
	for _, e := range entries {
		if e.Type == event.StateMember.Type && e.Membership == string(event.MembershipJoin) {
			ids = append(ids, e.EventID)
		}
	}
	evs, err := s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[id.UserID]MemberProfile, len(evs))
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return nil, err
		}
		var c struct {
			DisplayName string `json:"displayname"`
			AvatarURL   string `json:"avatar_url"`
		}
		json.Unmarshal(p.Content, &c)
		out[id.UserID(*ev.StateKey)] = MemberProfile{DisplayName: c.DisplayName, AvatarURL: c.AvatarURL}
	}
	return out, nil
}

// PreviousMembership returns the membership that a member event replaced ("" when none).
func (s *Service) PreviousMembership(ctx context.Context, ev *storage.Event) (string, error) {
	return s.stateValue(ctx, ev.ReplacesState, "membership")
}
