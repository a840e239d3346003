package syncapi

import (
	"context"
	"errors"
	"slices"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// roomsStream computes rooms.join, rooms.invite and rooms.leave for the event range
// (since, upto] and the window w of the other streams. since 0 is an initial sync.
func (s *Service) roomsStream(ctx context.Context, req Request, since, upto int64, w *streamWindow) (*RoomsBlock, error) {
	memberships, err := s.db.RoomsOfUser(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	forgotten, err := s.db.ForgottenRooms(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	initial := req.Since == nil
	var changes map[id.RoomID][]*storage.Event
	var active map[id.RoomID]int64
	if !initial {
		if changes, err = s.membershipChanges(ctx, req.UserID, since, upto); err != nil {
			return nil, err
		}
		if active, err = s.db.RoomsWithEventsInRange(ctx, since, upto); err != nil {
			return nil, err
		}
	}
	rf := req.Filter.Room
	block := &RoomsBlock{Join: map[id.RoomID]*JoinedRoom{}, Invite: map[id.RoomID]*InvitedRoom{}, Knock: map[id.RoomID]*KnockedRoom{}, Leave: map[id.RoomID]*LeftRoom{}}
	for roomID, membership := range memberships {
		if !MatchRoom(rf, roomID) {
			continue
		}
		changed := len(changes[roomID]) > 0
		switch event.Membership(membership) {
		case event.MembershipJoin:
			newlyJoined := initial
			if !initial {
				if newlyJoined, err = s.joinedIn(ctx, changes[roomID]); err != nil {
					return nil, err
				}
			}
			full := newlyJoined || req.FullState
			ephemeral, err := s.roomEphemeral(ctx, req, roomID, w, full)
			if err != nil {
				return nil, err
			}
			accountData, err := s.roomAccountData(ctx, req, roomID, w.accountData, full)
			if err != nil {
				return nil, err
			}
			if !full && active[roomID] == 0 && len(ephemeral) == 0 && len(accountData) == 0 {
				continue
			}
			jr, err := s.joinedRoom(ctx, req, roomID, since, upto, full)
			if err != nil {
				return nil, err
			}
			jr.Ephemeral.Events, jr.AccountData.Events = ephemeral, accountData
			block.Join[roomID] = jr
		case event.MembershipInvite:
			if !initial && !changed {
				continue
			}
			ir, err := s.invitedRoom(ctx, roomID, req.UserID)
			if err != nil {
				return nil, err
			}
			block.Invite[roomID] = ir
		case event.MembershipKnock:
			if !initial && !changed {
				continue
			}
			stripped, err := s.strippedState(ctx, roomID, req.UserID)
			if err != nil {
				return nil, err
			}
			block.Knock[roomID] = &KnockedRoom{KnockState: stripped}
		case event.MembershipLeave, event.MembershipBan:
			if slices.Contains(forgotten, roomID) || (initial || req.FullState) && !IncludeLeave(rf) || !initial && !changed && !req.FullState {
				continue
			}
			lr, err := s.leftRoom(ctx, req, roomID, since, initial || req.FullState)
			if err != nil {
				return nil, err
			}
			if lr.AccountData.Events, err = s.roomAccountData(ctx, req, roomID, w.accountData, false); err != nil {
				return nil, err
			}
			block.Leave[roomID] = lr
		}
	}
	return block, nil
}

func (s *Service) membershipChanges(ctx context.Context, userID id.UserID, since, upto int64) (map[id.RoomID][]*storage.Event, error) {
	evs, err := s.db.MembershipChanges(ctx, userID, since, upto)
	if err != nil {
		return nil, err
	}
	out := map[id.RoomID][]*storage.Event{}
	for _, ev := range evs {
		out[ev.RoomID] = append(out[ev.RoomID], ev)
	}
	return out, nil
}

// joinedIn reports whether the user joined the room within the range: a join event that
// replaced a membership other than join (a join after a join is a profile change).
func (s *Service) joinedIn(ctx context.Context, changes []*storage.Event) (bool, error) {
	for _, ev := range changes {
		if ev.Membership != string(event.MembershipJoin) {
			continue
		}
		prev, err := s.rooms.PreviousMembership(ctx, ev)
		if err != nil {
			return false, err
		}
		if prev != string(event.MembershipJoin) {
			return true, nil
		}
	}
	return false, nil
}

// timeline reads the newest events of a room in (after, upto] up to the filter's limit, oldest
// first, keeping those the user may see.
func (s *Service) timeline(ctx context.Context, req Request, roomID id.RoomID, membership string, after, upto int64) ([]*storage.Event, bool, error) {
	limit := TimelineLimit(req.Filter.Room, 0)
	evs, err := s.db.RoomEventsInRange(ctx, roomID, after, upto, limit+1)
	if err != nil {
		return nil, false, err
	}
	limited := len(evs) > limit
	if limited {
		evs = evs[:limit]
	}
	slices.Reverse(evs)
	evs, err = s.rooms.VisibleEvents(ctx, req.UserID, membership, evs)
	return evs, limited, err
}

func (s *Service) joinedRoom(ctx context.Context, req Request, roomID id.RoomID, since, upto int64, fullState bool) (*JoinedRoom, error) {
	evs, limited, err := s.timeline(ctx, req, roomID, string(event.MembershipJoin), since, upto)
	if err != nil {
		return nil, err
	}
	jr := &JoinedRoom{Ephemeral: emptyEvents(), AccountData: emptyEvents()}
	if jr.Timeline, err = s.renderTimeline(ctx, req, roomID, evs, limited, upto); err != nil {
		return nil, err
	}
	var stateEvs []*storage.Event
	switch {
	case fullState:
		stateEvs, err = s.stateAtTimelineStart(ctx, req, roomID, evs)
	case limited && len(evs) > 0:
		stateEvs, err = s.stateChangesBefore(ctx, req, roomID, since, evs)
	}
	if err == nil && !fullState && len(evs) > 0 && LazyLoadMembers(req.Filter.Room) {
		stateEvs, err = s.withSenderMembers(ctx, req, roomID, evs, stateEvs)
	}
	if err != nil {
		return nil, err
	}
	if jr.State.Events, err = s.render(ctx, req, stateEvs, true); err != nil {
		return nil, err
	}
	if jr.Summary, err = s.summary(ctx, roomID, req.UserID); err != nil {
		return nil, err
	}
	if err := s.unreadNotifications(ctx, req, roomID, jr); err != nil {
		return nil, err
	}
	return jr, nil
}

func (s *Service) leftRoom(ctx context.Context, req Request, roomID id.RoomID, since int64, fullState bool) (*LeftRoom, error) {
	leaveID, err := s.db.CurrentStateEvent(ctx, roomID, storage.StateKey{Type: event.StateMember.Type, StateKey: string(req.UserID)})
	if err != nil {
		return nil, err
	}
	leave, err := s.db.EventByID(ctx, leaveID)
	if err != nil {
		return nil, err
	}
	evs, limited, err := s.timeline(ctx, req, roomID, leave.Membership, since, leave.StreamPos)
	if err != nil {
		return nil, err
	}
	lr := &LeftRoom{AccountData: emptyEvents()}
	if lr.Timeline, err = s.renderTimeline(ctx, req, roomID, evs, limited, leave.StreamPos); err != nil {
		return nil, err
	}
	var stateEvs []*storage.Event
	if fullState {
		stateEvs, err = s.stateAtTimelineStart(ctx, req, roomID, evs)
	} else if limited && len(evs) > 0 {
		stateEvs, err = s.stateChangesBefore(ctx, req, roomID, since, evs)
	}
	if err != nil {
		return nil, err
	}
	lr.State.Events, err = s.render(ctx, req, stateEvs, true)
	return lr, err
}

func (s *Service) renderTimeline(ctx context.Context, req Request, roomID id.RoomID, evs []*storage.Event, limited bool, upto int64) (Timeline, error) {
	var kept []*storage.Event
	for _, ev := range evs {
		if part := timelinePart(req.Filter.Room); MatchEvent(part, filterEvent(ev, part)) {
			kept = append(kept, ev)
		}
	}
	rendered, err := s.render(ctx, req, kept, true)
	if err != nil {
		return Timeline{}, err
	}
	tl := Timeline{Events: rendered, Limited: limited}
	if len(evs) > 0 {
		tl.PrevBatch = TopoToken{storage.TopoPos{Depth: evs[0].Depth, StreamPos: evs[0].StreamPos}}.String()
	} else if pos, err := s.db.TopoPosAtStream(ctx, roomID, upto); err == nil {
		tl.PrevBatch = TopoToken{storage.TopoPos{Depth: pos.Depth, StreamPos: pos.StreamPos + 1}}.String()
	} else if !errors.Is(err, storage.ErrNotFound) {
		return Timeline{}, err
	}
	return tl, nil
}

// stateAtTimelineStart is the full room state just before the first timeline event (the
// current state when the timeline is empty), filtered and lazy-loaded per the filter.
func (s *Service) stateAtTimelineStart(ctx context.Context, req Request, roomID id.RoomID, timeline []*storage.Event) ([]*storage.Event, error) {
	var st rooms.State
	var err error
	if len(timeline) > 0 {
		st, err = s.rooms.StateBefore(ctx, timeline[0])
	} else {
		var room storage.Room
		if room, err = s.db.RoomByID(ctx, roomID); err == nil {
			st, err = s.rooms.StateAtSnapshot(ctx, room.StateSnapshot)
		}
	}
	if err != nil {
		return nil, err
	}
	keep := s.stateKeeper(req, timeline)
	evs, err := s.rooms.StateEvents(ctx, st, func(k storage.StateKey) bool { return keep(k) })
	if err != nil {
		return nil, err
	}
	return s.filterState(req, roomID, evs), nil
}

// stateChangesBefore is the state that changed between since and the start of a limited
// timeline: the newest event per key among the state events the gap skipped.
func (s *Service) stateChangesBefore(ctx context.Context, req Request, roomID id.RoomID, since int64, timeline []*storage.Event) ([]*storage.Event, error) {
	evs, err := s.db.RoomStateEventsInRange(ctx, roomID, since, timeline[0].StreamPos-1)
	if err != nil {
		return nil, err
	}
	latest := map[storage.StateKey]*storage.Event{}
	var order []storage.StateKey
	for _, ev := range evs {
		k := storage.StateKey{Type: ev.Type, StateKey: *ev.StateKey}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = ev
	}
	keep := s.stateKeeper(req, timeline)
	var out []*storage.Event
	for _, k := range order {
		if keep(k) {
			out = append(out, latest[k])
		}
	}
	return s.filterState(req, roomID, out), nil
}

// withSenderMembers adds to stateEvs the member events of the timeline's senders as of the
// timeline's start, where stateEvs lacks them. With lazy-loading, an earlier sync sent only the
// members who spoke then, and this server does not track which member events each client has
// seen; the spec allows sending them again ("Lazy-loading room members" in
// content/client-server-api/_index.md), but not leaving out one the client never had.
func (s *Service) withSenderMembers(ctx context.Context, req Request, roomID id.RoomID, timeline, stateEvs []*storage.Event) ([]*storage.Event, error) {
	st, err := s.rooms.StateBefore(ctx, timeline[0])
	if err != nil {
		return nil, err
	}
	have := map[string]bool{string(req.UserID): true} // the user's own was sent at the initial sync
	for _, ev := range stateEvs {
		if ev.Type == event.StateMember.Type {
			have[*ev.StateKey] = true
		}
	}
	keep := s.stateKeeper(req, timeline)
	members, err := s.rooms.StateEvents(ctx, st, func(k storage.StateKey) bool {
		return k.Type == event.StateMember.Type && !have[k.StateKey] && keep(k)
	})
	if err != nil {
		return nil, err
	}
	return append(stateEvs, s.filterState(req, roomID, members)...), nil
}

// stateKeeper implements lazy-loading of members: with lazy_load_members only the member events
// of the timeline's senders (and the user's own) are sent.
func (s *Service) stateKeeper(req Request, timeline []*storage.Event) func(storage.StateKey) bool {
	if !LazyLoadMembers(req.Filter.Room) {
		return func(storage.StateKey) bool { return true }
	}
	senders := map[string]bool{string(req.UserID): true}
	for _, ev := range timeline {
		senders[string(ev.Sender)] = true
	}
	return func(k storage.StateKey) bool {
		return k.Type != event.StateMember.Type || senders[k.StateKey]
	}
}

func (s *Service) filterState(req Request, roomID id.RoomID, evs []*storage.Event) []*storage.Event {
	var part *mautrix.FilterPart
	if req.Filter.Room != nil {
		part = req.Filter.Room.State
	}
	out := evs[:0:0]
	for _, ev := range evs {
		if MatchEvent(part, filterEvent(ev, part)) {
			out = append(out, ev)
		}
	}
	return out
}

func (s *Service) render(ctx context.Context, req Request, evs []*storage.Event, noRoomID bool) ([]*rooms.ClientEvent, error) {
	out, err := s.rooms.FormatEvents(ctx, evs, rooms.FormatOptions{Viewer: req.UserID, Device: req.DeviceID, NoRoomID: noRoomID})
	if out == nil && err == nil {
		out = []*rooms.ClientEvent{}
	}
	return out, err
}

func (s *Service) invitedRoom(ctx context.Context, roomID id.RoomID, userID id.UserID) (*InvitedRoom, error) {
	stripped, err := s.strippedState(ctx, roomID, userID)
	return &InvitedRoom{InviteState: stripped}, err
}

// strippedState is what an invitee or a knocker may see of a room.
func (s *Service) strippedState(ctx context.Context, roomID id.RoomID, userID id.UserID) (StrippedStateBlock, error) {
	stripped, err := s.rooms.StrippedState(ctx, roomID, userID)
	block := StrippedStateBlock{Events: []StrippedEvent{}}
	for _, st := range stripped {
		block.Events = append(block.Events, StrippedEvent{Content: st.Content, Sender: st.Sender, StateKey: st.StateKey, Type: st.Type})
	}
	return block, err
}

// summary names the room's heroes (up to five other joined or invited members, by user ID)
// and counts its members.
func (s *Service) summary(ctx context.Context, roomID id.RoomID, userID id.UserID) (*Summary, error) {
	joined, err := s.db.RoomMembers(ctx, roomID, string(event.MembershipJoin))
	if err != nil {
		return nil, err
	}
	invited, err := s.db.RoomMembers(ctx, roomID, string(event.MembershipInvite))
	if err != nil {
		return nil, err
	}
	sum := &Summary{JoinedMemberCount: len(joined), InvitedMemberCount: len(invited)}
	candidates := append(append([]id.UserID{}, joined...), invited...)
	slices.Sort(candidates)
	for _, u := range candidates {
		if u != userID && len(sum.Heroes) < 5 {
			sum.Heroes = append(sum.Heroes, u)
		}
	}
	return sum, nil
}

func timelinePart(rf *mautrix.RoomFilter) *mautrix.FilterPart {
	if rf == nil {
		return nil
	}
	return rf.Timeline
}

// filterEvent describes ev for MatchEvent, extracting content only when the filter reads it.
func filterEvent(ev *storage.Event, part *mautrix.FilterPart) FilterEvent {
	fe := FilterEvent{RoomID: ev.RoomID, Sender: ev.Sender, Type: ev.Type}
	if part != nil && part.ContainsURL != nil {
		fe.Content = []byte(gjson.GetBytes(ev.PDU, "content").Raw)
	}
	return fe
}
