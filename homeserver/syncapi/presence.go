package syncapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Presence (content/client-server-api/modules/presence.md). What the server publishes for each
// local user is a row of the presence table, with a position in the "presence" stream that
// /sync sends to the user and to everyone who shares a room with them. What it is made of is
// tracked in memory (presenceTracker): the user's syncs in flight and when the last one ended,
// and their last pro-active action (an event they sent, a presence set to online). A loop
// (RunPresence) folds that in every presenceTick:
//
//   - new activity makes an unavailable or offline user online (presence.md, "Idle timeout");
//   - an online user with no activity for idleAfter becomes unavailable;
//   - a user with no sync in flight, none ended within offlineAfter and no recent activity
//     becomes offline;
//   - currently_active says an online user was active within activeWindow; while it holds,
//     newer activity changes nothing published (presence.md, "Last active ago").
//
// A sync with set_presence online or unavailable (online by default) makes an offline user
// present at once; PUT /presence sets the state and status message and counts as a sync.
// Several instances on one database would each know only their own clients' activity; that
// waits for the scale-out work.

// The presence states.
const (
	presenceOnline      = string(event.PresenceOnline)
	presenceUnavailable = string(event.PresenceUnavailable)
	presenceOffline     = string(event.PresenceOffline)
)

// Presence timing.
const (
	idleAfter    = 5 * time.Minute
	offlineAfter = 30 * time.Second
	activeWindow = time.Minute
	presenceTick = 5 * time.Second
)

// activity is what the tracker knows of one user.
type activity struct {
	lastActive time.Time // the last pro-active action; zero for none seen
	syncing    int       // syncs in flight that count for presence
	syncEnded  time.Time // when the last one ended (or presence was set)
}

// presenceTracker keeps the activity of the users seen since the process started.
type presenceTracker struct {
	mu    sync.Mutex
	users map[id.UserID]*activity
}

func newPresenceTracker() *presenceTracker {
	return &presenceTracker{users: map[id.UserID]*activity{}}
}

// update changes a user's activity under the lock and returns a copy of it.
func (t *presenceTracker) update(userID id.UserID, change func(a *activity)) activity {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.users[userID]
	if a == nil {
		a = &activity{}
		t.users[userID] = a
	}
	change(a)
	return *a
}

// snapshot returns the users the tracker knows with their activity.
func (t *presenceTracker) snapshot() map[id.UserID]activity {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[id.UserID]activity, len(t.users))
	for u, a := range t.users {
		out[u] = *a
	}
	return out
}

// forget drops a user the tracker knows when their activity is still seen: an offline user
// with nothing in flight, whom the loop need not look at again until they come back.
func (t *presenceTracker) forget(userID id.UserID, seen activity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.users[userID]; a != nil && *a == seen {
		delete(t.users, userID)
	}
}

// nextPresence returns what to publish for a user whose published presence is pub and whose
// activity is act, and whether it differs from pub in what clients see (state, status,
// currently_active).
func nextPresence(pub storage.Presence, act activity, now time.Time) (storage.Presence, bool) {
	next := pub
	if act.lastActive.UnixMilli() > pub.LastActiveTS {
		next.LastActiveTS = act.lastActive.UnixMilli()
		if pub.State != presenceOnline {
			next.State = presenceOnline
		}
	}
	sinceActive := now.Sub(time.UnixMilli(next.LastActiveTS))
	connected := act.syncing > 0 || now.Sub(act.syncEnded) < offlineAfter || sinceActive < offlineAfter
	switch {
	case next.State != presenceOffline && !connected:
		next.State = presenceOffline
	case next.State == presenceOnline && sinceActive >= idleAfter:
		next.State = presenceUnavailable
	}
	next.CurrentlyActive = next.State == presenceOnline && sinceActive < activeWindow
	changed := next.State != pub.State || next.StatusMsg != pub.StatusMsg || next.CurrentlyActive != pub.CurrentlyActive
	return next, changed
}

// SetPresence sets a user's presence state and status message ("" for none)
// (data/api/client-server/presence.yaml). Setting online counts as activity.
func (s *Service) SetPresence(ctx context.Context, userID id.UserID, state, statusMsg string) error {
	if state != presenceOnline && state != presenceUnavailable && state != presenceOffline {
		return mxerr.InvalidParam.WithMessage("presence must be online, unavailable or offline")
	}
	now := s.now()
	act := s.presence.update(userID, func(a *activity) {
		a.syncEnded = now
		if state == presenceOnline {
			a.lastActive = now
		}
	})
	pub, err := s.publishedPresence(ctx, userID)
	if err != nil {
		return err
	}
	next := pub
	next.State, next.StatusMsg = state, statusMsg
	next.LastActiveTS = max(pub.LastActiveTS, act.lastActive.UnixMilli())
	next.CurrentlyActive = state == presenceOnline && now.Sub(time.UnixMilli(next.LastActiveTS)) < activeWindow
	if next == pub {
		return nil
	}
	return s.publishPresence(ctx, next)
}

// PresenceContent is the content of an m.presence event, and the body of GET /presence.
type PresenceContent struct {
	Presence        string `json:"presence"`
	LastActiveAgo   int64  `json:"last_active_ago,omitempty"`
	CurrentlyActive *bool  `json:"currently_active,omitempty"`
	StatusMsg       string `json:"status_msg,omitempty"`
}

// Presence returns a user's presence as viewer may see it: their own, or that of someone who
// shares a joined room with them; anyone else's is M_FORBIDDEN.
func (s *Service) Presence(ctx context.Context, viewer, userID id.UserID) (PresenceContent, error) {
	if viewer != userID {
		shared, err := s.sharesRoom(ctx, viewer, userID)
		if err != nil {
			return PresenceContent{}, err
		}
		if !shared {
			return PresenceContent{}, mxerr.Forbidden.WithMessage("you are not allowed to see the presence of %s", userID)
		}
	}
	pub, err := s.publishedPresence(ctx, userID)
	if err != nil {
		return PresenceContent{}, err
	}
	return presenceContent(pub, s.now()), nil
}

// sharesRoom reports whether two users are both joined to a room.
func (s *Service) sharesRoom(ctx context.Context, a, b id.UserID) (bool, error) {
	roomsA, err := s.db.RoomsOfUser(ctx, a)
	if err != nil {
		return false, err
	}
	roomsB, err := s.db.RoomsOfUser(ctx, b)
	if err != nil {
		return false, err
	}
	for roomID, m := range roomsA {
		if m == string(event.MembershipJoin) && roomsB[roomID] == string(event.MembershipJoin) {
			return true, nil
		}
	}
	return false, nil
}

// publishedPresence returns a user's published presence, offline when none was published.
func (s *Service) publishedPresence(ctx context.Context, userID id.UserID) (storage.Presence, error) {
	pub, err := s.db.PresenceOf(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Presence{UserID: userID, State: presenceOffline}, nil
	}
	return pub, err
}

// publishPresence stores p at the next position of the stream and wakes the long polls of
// the user and of everyone in their rooms.
func (s *Service) publishPresence(ctx context.Context, p storage.Presence) error {
	now := s.now().UnixMilli()
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if p.StreamPos, err = tx.NextCounter(ctx, "presence"); err != nil {
			return err
		}
		return tx.PutPresence(ctx, p, now)
	})
	if err != nil {
		return err
	}
	memberships, err := s.db.RoomsOfUser(ctx, p.UserID)
	if err != nil {
		return err
	}
	if s.ephemeral != nil {
		s.ephemeral.OnPresence(p)
	}
	s.notifier.WakeUser(p.UserID)
	for roomID, m := range memberships {
		if m == string(event.MembershipJoin) {
			s.notifier.WakeRoom(roomID)
		}
	}
	return nil
}

// syncStarted notes a sync of a user with the given set_presence and, when it makes an offline
// user present, publishes that at once. It returns the function to call when the sync ends.
func (s *Service) syncStarted(ctx context.Context, userID id.UserID, setPresence string) (func(), error) {
	if setPresence == presenceOffline {
		return func() {}, nil
	}
	s.presence.update(userID, func(a *activity) { a.syncing++ })
	ended := func() { s.presence.update(userID, func(a *activity) { a.syncing--; a.syncEnded = s.now() }) }
	pub, err := s.publishedPresence(ctx, userID)
	if err != nil || pub.State != presenceOffline {
		return ended, err
	}
	next := pub
	next.State = setPresence
	if setPresence == presenceOnline {
		// Coming online is pro-active (presence.md, "Last active ago").
		now := s.now()
		s.noteActivity(userID, now)
		next.LastActiveTS, next.CurrentlyActive = now.UnixMilli(), true
	}
	return ended, s.publishPresence(ctx, next)
}

// noteSender counts an event a local user sent just now as their activity. Events with an
// older timestamp (history an appservice imports) are not activity.
func (s *Service) noteSender(ev *storage.Event) {
	now := s.now()
	if ev.Sender.Homeserver() != s.rooms.ServerName() || now.Sub(time.UnixMilli(ev.OriginServerTS)) > activeWindow {
		return
	}
	s.noteActivity(ev.Sender, now)
}

// noteActivity records a pro-active action of a local user at now.
func (s *Service) noteActivity(userID id.UserID, now time.Time) {
	s.presence.update(userID, func(a *activity) { a.lastActive = now })
}

// RunPresence publishes the presence changes that activity and time make, every
// presenceTick, until ctx ends.
func (s *Service) RunPresence(ctx context.Context) error {
	tick := time.NewTicker(presenceTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := s.refreshPresence(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "cannot update presence", "error", err)
		}
	}
}

// refreshPresence publishes, for every user who is not offline or whom the tracker knows,
// what nextPresence makes of their published presence and activity. Users who end up offline
// with no sync in flight leave the tracker, which so holds only the present.
func (s *Service) refreshPresence(ctx context.Context) error {
	now := s.now()
	acts := s.presence.snapshot()
	present, err := s.db.PresenceNotOffline(ctx)
	if err != nil {
		return err
	}
	published := map[id.UserID]storage.Presence{}
	for _, p := range present {
		published[p.UserID] = p
	}
	for userID := range acts {
		if _, ok := published[userID]; !ok {
			if published[userID], err = s.publishedPresence(ctx, userID); err != nil {
				return err
			}
		}
	}
	for userID, pub := range published {
		act := acts[userID]
		next, changed := nextPresence(pub, act, now)
		if changed {
			if err := s.publishPresence(ctx, next); err != nil {
				return err
			}
		}
		if next.State == presenceOffline && act.syncing == 0 {
			s.presence.forget(userID, act)
		}
	}
	return nil
}

// presenceContent renders published presence as clients see it at now.
func presenceContent(p storage.Presence, now time.Time) PresenceContent {
	c := PresenceContent{Presence: p.State, StatusMsg: p.StatusMsg}
	if p.LastActiveTS > 0 {
		c.LastActiveAgo = max(now.UnixMilli()-p.LastActiveTS, 0)
	}
	if p.State == presenceOnline {
		active := p.CurrentlyActive
		c.CurrentlyActive = &active
	}
	return c
}

// PresenceEphemeral is published presence as an appservice transaction carries it at now.
func PresenceEphemeral(p storage.Presence, now time.Time) EphemeralEvent {
	return EphemeralEvent{Type: event.EphemeralEventPresence.Type, Sender: p.UserID, Content: presenceContent(p, now)}
}

// PresenceEvent is an m.presence event as /sync sends it.
type PresenceEvent struct {
	Type    string          `json:"type"`
	Sender  id.UserID       `json:"sender"`
	Content PresenceContent `json:"content"`
}

// presenceSince renders the presence section of a sync: on an initial sync the presence of the
// user and of everyone who shares a room with them, except the offline; otherwise what was
// published in (since, upto]. Filtered by the presence filter.
func (s *Service) presenceSince(ctx context.Context, req Request, since, upto int64) ([]any, error) {
	var ps []storage.Presence
	var err error
	switch {
	case req.Since == nil:
		ps, err = s.db.PresenceOfRoommates(ctx, req.UserID, upto)
	case since < upto:
		ps, err = s.db.PresenceInRange(ctx, req.UserID, since, upto)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	part := req.Filter.Presence
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		if MatchEvent(part, FilterEvent{Sender: p.UserID, Type: event.EphemeralEventPresence.Type}) {
			out = append(out, PresenceEvent{Type: event.EphemeralEventPresence.Type, Sender: p.UserID, Content: presenceContent(p, now)})
		}
	}
	return out, nil
}
