package rooms

import (
	"context"
	"encoding/json/v2"
	"errors"
	"sync"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// stateValues caches one string field of state events (membership, history_visibility) by
// event ID. Both fields survive redaction, so a cached value never goes stale.
type stateValues struct{ m sync.Map }

func (s *Service) stateValue(ctx context.Context, evID id.EventID, field string) (string, error) {
	if evID == "" {
		return "", nil
	}
	key := string(evID) + "\x00" + field
	if v, ok := s.values.m.Load(key); ok {
		return v.(string), nil
	}
	ev, err := s.db.EventByID(ctx, evID)
	if err != nil {
		return "", err
	}
	p, err := ParsePDU(ev)
	if err != nil {
		return "", err
	}
	var content map[string]any
	json.Unmarshal(p.Content, &content)
	v, _ := content[field].(string)
	s.values.m.Store(key, v)
	return v, nil
}

// VisibleEvents keeps the events userID may see under the room's history visibility at each
// event (content/client-server-api/_index.md, "History visibility"). currentMembership is the
// user's membership in the room now; "shared" history is visible to those who joined after it
// was sent: current members, and former members up to the leave that ended their membership.
// The events must all belong to one room.
func (s *Service) VisibleEvents(ctx context.Context, userID id.UserID, currentMembership string, evs []*storage.Event) ([]*storage.Event, error) {
	out := evs[:0:0]
	var leftAt int64
	if len(evs) > 0 && (currentMembership == string(event.MembershipLeave) || currentMembership == string(event.MembershipBan)) {
		var err error
		if leftAt, err = s.membershipEndedAt(ctx, evs[0].RoomID, userID); err != nil {
			return nil, err
		}
	}
	for _, ev := range evs {
		joinedAfter := currentMembership == string(event.MembershipJoin) || ev.StreamPos < leftAt
		ok, err := s.canSee(ctx, userID, joinedAfter, ev)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// membershipEndedAt returns the stream position of the user's current membership event in the
// room when it ended a join (a leave, kick or ban of a joined user), and 0 otherwise: a user who
// was joined until then joined after every earlier event they were not joined at.
func (s *Service) membershipEndedAt(ctx context.Context, roomID id.RoomID, userID id.UserID) (int64, error) {
	key := storage.StateKey{Type: event.StateMember.Type, StateKey: string(userID)}
	evID, err := s.db.CurrentStateEvent(ctx, roomID, key)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	ev, err := s.db.EventByID(ctx, evID)
	if err != nil {
		return 0, err
	}
	before, err := s.states.StateAt(ctx, s.db, ev.StateBefore)
	if err != nil {
		return 0, err
	}
	if m, err := s.stateValue(ctx, before[key], "membership"); err != nil || m != string(event.MembershipJoin) {
		return 0, err
	}
	return ev.StreamPos, nil
}

// canSee applies the rules to one event. joinedAfter says whether the user joined the room at
// some point after the event was sent.
func (s *Service) canSee(ctx context.Context, userID id.UserID, joinedAfter bool, ev *storage.Event) (bool, error) {
	state, err := s.states.StateAt(ctx, s.db, ev.StateBefore)
	if err != nil {
		return false, err
	}
	visibility, err := s.stateValue(ctx, state[storage.StateKey{Type: event.StateHistoryVisibility.Type}], "history_visibility")
	if err != nil {
		return false, err
	}
	membership, err := s.stateValue(ctx, state[storage.StateKey{Type: event.StateMember.Type, StateKey: string(userID)}], "membership")
	if err != nil {
		return false, err
	}
	if visibleUnder(visibility, membership, joinedAfter) {
		return true, nil
	}
	// A user sees their own membership changes, and changes of the history visibility, when the
	// state before or after the event allows it: a kicked user sees the kick even under "joined".
	switch {
	case ev.Type == event.StateMember.Type && ev.StateKey != nil && *ev.StateKey == string(userID):
		return visibleUnder(visibility, ev.Membership, joinedAfter), nil
	case ev.Type == event.StateHistoryVisibility.Type && ev.StateKey != nil && *ev.StateKey == "":
		after, err := s.stateValue(ctx, ev.ID, "history_visibility")
		if err != nil {
			return false, err
		}
		return visibleUnder(after, membership, joinedAfter), nil
	}
	return false, nil
}

// visibleUnder applies the rules of "Server behaviour" in
// content/client-server-api/modules/history_visibility.md to one event: visibility and
// membership are those at the event; joinedAfter says whether the user joined after it.
func visibleUnder(visibility, membership string, joinedAfter bool) bool {
	switch event.HistoryVisibility(visibility) {
	case event.HistoryVisibilityWorldReadable:
		return true
	case event.HistoryVisibilityShared, "":
		return membership == string(event.MembershipJoin) || joinedAfter
	case event.HistoryVisibilityInvited:
		return membership == string(event.MembershipJoin) || membership == string(event.MembershipInvite)
	default: // joined, and unknown values treated as the strictest
		return membership == string(event.MembershipJoin)
	}
}
