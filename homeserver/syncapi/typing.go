package syncapi

import (
	"context"
	"slices"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Typing timeouts. data/api/client-server/typing.yaml leaves them to the server; clients
// renew every 20-30 seconds (content/client-server-api/modules/typing_notifications.md).
const (
	DefaultTypingTimeout = 30 * time.Second  // when the request gives none
	MaxTypingTimeout     = 120 * time.Second // a longer request is cut to this
)

// SetTyping records that userID is typing in roomID for timeout (DefaultTypingTimeout when
// not positive, at most MaxTypingTimeout), or, with typing false, that they stopped
// (data/api/client-server/typing.yaml). Only joined members may type.
func (s *Service) SetTyping(ctx context.Context, roomID id.RoomID, userID id.UserID, typing bool, timeout time.Duration) error {
	membership, err := s.rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return err
	}
	if membership != string(event.MembershipJoin) {
		return mxerr.Forbidden.WithMessage("you are not in room %s", roomID)
	}
	if !typing {
		s.typing.stop(roomID, userID)
		return nil
	}
	if timeout <= 0 {
		timeout = DefaultTypingTimeout
	}
	s.typing.start(roomID, userID, min(timeout, MaxTypingTimeout))
	return nil
}

// stopTypingOfLeaver makes a member who leaves a room (or is kicked or banned) stop typing in it.
func (s *Service) stopTypingOfLeaver(ev *storage.Event) {
	if ev.Type == event.StateMember.Type && ev.StateKey != nil && ev.Membership != string(event.MembershipJoin) {
		s.typing.stop(ev.RoomID, id.UserID(*ev.StateKey))
	}
}

// typingChanged wakes the room's long polls and tells the ephemeral notifier. It runs under
// the typing lock, so changes are reported in order.
func (s *Service) typingChanged(roomID id.RoomID, userIDs []id.UserID) {
	s.notifier.WakeRoom(roomID)
	if s.ephemeral != nil {
		s.ephemeral.OnTyping(roomID, userIDs)
	}
}

// typingTracker knows who is typing where. It lives in memory only: typing notifications are
// ephemeral and not worth a write per keystroke burst, and a restart forgets them, as the
// clients' renewals restore them within seconds. (Several instances on one database would
// each know only their own clients' typing; that waits for LISTEN/NOTIFY.)
//
// Each change (someone starts, stops or times out) takes the next position of the typing
// stream, and each room remembers the position of its last change, so that /sync can send
// m.typing for the rooms changed since a token. Positions start at the process's start time
// in milliseconds: a restarted server thus continues above the positions in the tokens its
// predecessor handed out (unless that one averaged more than a change per millisecond), and a
// token from the future anyway is treated as a token from before any change.
//
// A room's entry stays when its last typist stops, since a sync must still learn of the stop;
// it costs a few words per room that ever saw typing.
type typingTracker struct {
	mu      sync.Mutex
	pos     int64
	rooms   map[id.RoomID]*roomTyping
	changed func(roomID id.RoomID, userIDs []id.UserID) // called under mu after each change
}

type roomTyping struct {
	pos   int64 // of the room's last change
	users map[id.UserID]*typist
}

// typist is one user typing in one room until timer fires.
type typist struct {
	timer *time.Timer
}

func newTypingTracker(start time.Time, changed func(id.RoomID, []id.UserID)) *typingTracker {
	return &typingTracker{pos: start.UnixMilli(), rooms: map[id.RoomID]*roomTyping{}, changed: changed}
}

// start marks userID as typing in roomID for timeout. Renewing a user already typing moves
// their expiry and is not a change.
func (t *typingTracker) start(roomID id.RoomID, userID id.UserID, timeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.rooms[roomID]
	if rt == nil {
		rt = &roomTyping{users: map[id.UserID]*typist{}}
		t.rooms[roomID] = rt
	}
	old := rt.users[userID]
	if old != nil {
		old.timer.Stop()
	}
	ty := &typist{}
	ty.timer = time.AfterFunc(timeout, func() { t.expire(roomID, userID, ty) })
	rt.users[userID] = ty
	if old == nil {
		t.changedLocked(roomID, rt)
	}
}

// stop marks userID as no longer typing in roomID.
func (t *typingTracker) stop(roomID id.RoomID, userID id.UserID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(roomID, userID, nil)
}

// expire ends ty's typing unless it was renewed or stopped meanwhile.
func (t *typingTracker) expire(roomID id.RoomID, userID id.UserID, ty *typist) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(roomID, userID, ty)
}

// removeLocked removes userID's typing in roomID; if only is not nil, only if it is that typist.
func (t *typingTracker) removeLocked(roomID id.RoomID, userID id.UserID, only *typist) {
	rt := t.rooms[roomID]
	if rt == nil {
		return
	}
	ty := rt.users[userID]
	if ty == nil || only != nil && ty != only {
		return
	}
	ty.timer.Stop()
	delete(rt.users, userID)
	t.changedLocked(roomID, rt)
}

func (t *typingTracker) changedLocked(roomID id.RoomID, rt *roomTyping) {
	t.pos++
	rt.pos = t.pos
	if t.changed != nil {
		t.changed(roomID, rt.userIDs())
	}
}

func (rt *roomTyping) userIDs() []id.UserID {
	out := make([]id.UserID, 0, len(rt.users))
	for u := range rt.users {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// position returns the typing stream's current position.
func (t *typingTracker) position() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos
}

// room returns who is typing in roomID, sorted, and the position of the room's last change
// (0 if it never had any).
func (t *typingTracker) room(roomID id.RoomID) ([]id.UserID, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.rooms[roomID]
	if rt == nil {
		return nil, 0
	}
	return rt.userIDs(), rt.pos
}
