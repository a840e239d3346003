package appservice

import (
	"context"
	"encoding/json/v2"
	"errors"
	"sync"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// maxCachedRooms bounds the interest cache. When it is full the cache starts over: answers are
// cheap to recompute, and a busy server touches far fewer rooms than this between clears.
const maxCachedRooms = 4096

// interest decides which events go to which application service
// (content/application-service-api.md, "Registration" and "Pushing events"): an event is of
// interest when its sender, or the user a membership event is about, is in the user
// namespace, when its room ID is in the room namespace, or when its room is. A room is of
// interest when its canonical alias (alias or alt_aliases) is in the alias namespace or when
// one of its members (joined or invited) is in the user namespace. The sender_localpart user
// counts as in the user namespace.
//
// Room interest is judged on the room's current state at the time of sending, as Synapse does,
// so an appservice user's join also brings the room's earlier events still in the queue. The
// answers are cached per room and registration, and dropped when the room's canonical alias
// or the membership of a user in the registration's namespace changes. Both OnEvent and the
// workers' scans report such events: OnEvent comes a moment after the commit, so a scan can
// meet a change first.
type interest struct {
	db         *storage.DB
	serverName string

	mu sync.Mutex
	// epoch counts invalidations. An answer computed from the database is cached only if no
	// invalidation happened while it was computed, because it may have read the state from
	// before the change that the invalidation announced.
	epoch uint64
	rooms map[id.RoomID]map[*Registration]bool
}

func newInterest(db *storage.DB, serverName string) *interest {
	return &interest{db: db, serverName: serverName, rooms: make(map[id.RoomID]map[*Registration]bool)}
}

// changesInterest reports whether ev can change which appservices its room interests.
func changesInterest(ev *storage.Event) bool {
	if ev.StateKey == nil {
		return false
	}
	return ev.Type == event.StateMember.Type || ev.Type == event.StateCanonicalAlias.Type && *ev.StateKey == ""
}

// invalidate forgets the answers that ev may have changed: for a membership event, those of
// the registrations whose user namespace covers its user (no one else's interest depends on
// that user), and for a canonical alias, all of the room's. It never blocks on I/O.
func (in *interest) invalidate(ev *storage.Event) {
	if !changesInterest(ev) {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.epoch++
	if ev.Type == event.StateCanonicalAlias.Type {
		delete(in.rooms, ev.RoomID)
		return
	}
	for reg := range in.rooms[ev.RoomID] {
		if reg.InterestedInUser(id.UserID(*ev.StateKey), in.serverName) {
			delete(in.rooms[ev.RoomID], reg)
		}
	}
}

// interested reports whether ev goes to reg.
func (in *interest) interested(ctx context.Context, reg *Registration, ev *storage.Event) (bool, error) {
	if reg.InterestedInUser(ev.Sender, in.serverName) || reg.InterestedInRoom(ev.RoomID) {
		return true, nil
	}
	if ev.Type == event.StateMember.Type && ev.StateKey != nil && reg.InterestedInUser(id.UserID(*ev.StateKey), in.serverName) {
		return true, nil
	}
	return in.roomInterests(ctx, reg, ev.RoomID)
}

// roomInterests reports whether the room, by its members or canonical alias, interests reg.
func (in *interest) roomInterests(ctx context.Context, reg *Registration, roomID id.RoomID) (bool, error) {
	in.mu.Lock()
	ok, cached := in.rooms[roomID][reg]
	epoch := in.epoch
	in.mu.Unlock()
	if cached {
		return ok, nil
	}
	ok, err := in.load(ctx, reg, roomID)
	if err != nil {
		return false, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.epoch == epoch {
		if len(in.rooms) >= maxCachedRooms {
			clear(in.rooms)
		}
		answers := in.rooms[roomID]
		if answers == nil {
			answers = make(map[*Registration]bool)
			in.rooms[roomID] = answers
		}
		// Keyed by pointer: a reloaded registration is a new pointer, so answers computed
		// under old namespaces are never used for new ones.
		answers[reg] = ok
	}
	return ok, nil
}

// load reads the room's current members and canonical alias and matches them against reg.
func (in *interest) load(ctx context.Context, reg *Registration, roomID id.RoomID) (bool, error) {
	state, err := in.db.CurrentState(ctx, roomID)
	if err != nil {
		return false, err
	}
	var aliasEvent id.EventID
	for _, e := range state {
		switch e.Type {
		case event.StateMember.Type:
			if (e.Membership == string(event.MembershipJoin) || e.Membership == string(event.MembershipInvite)) &&
				reg.InterestedInUser(id.UserID(e.StateKey.StateKey), in.serverName) {
				return true, nil
			}
		case event.StateCanonicalAlias.Type:
			if e.StateKey.StateKey == "" {
				aliasEvent = e.EventID
			}
		}
	}
	if aliasEvent == "" || len(reg.Namespaces.Aliases) == 0 {
		return false, nil
	}
	aliases, err := in.canonicalAliases(ctx, aliasEvent)
	if err != nil {
		return false, err
	}
	for _, alias := range aliases {
		if reg.InterestedInAlias(alias) {
			return true, nil
		}
	}
	return false, nil
}

// canonicalAliases returns the alias and alt_aliases of an m.room.canonical_alias event.
func (in *interest) canonicalAliases(ctx context.Context, evID id.EventID) ([]id.RoomAlias, error) {
	ev, err := in.db.EventByID(ctx, evID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if ev.RedactedBy != "" {
		return nil, nil // redaction strips both keys
	}
	p, err := rooms.ParsePDU(ev)
	if err != nil {
		return nil, err
	}
	var content struct {
		Alias      id.RoomAlias   `json:"alias"`
		AltAliases []id.RoomAlias `json:"alt_aliases"`
	}
	// Content that does not parse names no alias; it cannot make the room interesting.
	if json.Unmarshal(p.Content, &content) != nil {
		return nil, nil
	}
	if content.Alias != "" {
		return append(content.AltAliases, content.Alias), nil
	}
	return content.AltAliases, nil
}
