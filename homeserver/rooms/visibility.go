package rooms

import (
	"context"
	"encoding/json/v2"
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
// user's membership in the room now; "shared" history is visible to current members.
func (s *Service) VisibleEvents(ctx context.Context, userID id.UserID, currentMembership string, evs []*storage.Event) ([]*storage.Event, error) {
	out := evs[:0:0]
	for _, ev := range evs {
		ok, err := s.canSee(ctx, userID, currentMembership, ev)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (s *Service) canSee(ctx context.Context, userID id.UserID, currentMembership string, ev *storage.Event) (bool, error) {
	state, err := s.states.StateAt(ctx, s.db, ev.StateBefore)
	if err != nil {
		return false, err
	}
	visibility, err := s.stateValue(ctx, state[storage.StateKey{Type: event.StateHistoryVisibility.Type}], "history_visibility")
	if err != nil {
		return false, err
	}
	if visibility == "" {
		visibility = string(event.HistoryVisibilityShared)
	}
	membership, err := s.stateValue(ctx, state[storage.StateKey{Type: event.StateMember.Type, StateKey: string(userID)}], "membership")
	if err != nil {
		return false, err
	}
	if ev.Type == event.StateMember.Type && ev.StateKey != nil && *ev.StateKey == string(userID) {
		membership = ev.Membership // a user always sees their own membership changes
	}
	switch event.HistoryVisibility(visibility) {
	case event.HistoryVisibilityWorldReadable:
		return true, nil
	case event.HistoryVisibilityShared:
		return membership == string(event.MembershipJoin) || currentMembership == string(event.MembershipJoin), nil
	case event.HistoryVisibilityInvited:
		return membership == string(event.MembershipJoin) || membership == string(event.MembershipInvite), nil
	default: // joined, and unknown values treated as the strictest
		return membership == string(event.MembershipJoin), nil
	}
}
