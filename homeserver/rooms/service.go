// Package rooms owns Matrix rooms as the server sees them: room versions, building and signing
// PDUs, authorizing them with the room version's rules (mautrix federation/eventauth), room state
// and its snapshots, membership changes, history visibility and rendering events for clients.
// SQL lives in homeserver/storage; HTTP lives in the API packages.
package rooms

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/serverkey"
	"causeway/homeserver/storage"
)

// Notifier hears about every event after it is committed. syncapi implements it to wake
// long-polling /sync requests.
type Notifier interface {
	// OnEvent is called once per committed event, in stream order per call site. It must not block.
	OnEvent(ev *storage.Event)
}

// PushEvaluator decides whom each new event notifies (homeserver/push implements it). Both
// calls run in the transaction that stores the event, so an event and its notifications
// commit together: Evaluate before the event changes the room's state, Record once the event
// has its stream position, with what Evaluate returned.
type PushEvaluator interface {
	Evaluate(ctx context.Context, tx *storage.Tx, ev *storage.Event, powerLevels func() (*event.PowerLevelsEventContent, error)) ([]storage.PushAction, error)
	Record(ctx context.Context, tx *storage.Tx, ev *storage.Event, actions []storage.PushAction) error
}

// Service creates rooms and events and reads room state.
type Service struct {
	db             *storage.DB
	serverName     string
	key            serverkey.Key
	defaultVersion id.RoomVersion
	notifier       Notifier
	push           PushEvaluator
	states         *stateStore
	versions       sync.Map // id.RoomID -> id.RoomVersion; a room's version never changes
	values         stateValues
	log            *slog.Logger
	now            func() time.Time
}

// Options configures a Service.
type Options struct {
	ServerName     string
	Key            serverkey.Key
	DefaultVersion id.RoomVersion
	Notifier       Notifier      // may be nil
	Push           PushEvaluator // may be nil: no notifications
	Log            *slog.Logger
	Now            func() time.Time // nil: time.Now
}

// stateCacheSize bounds how many full room states stay decoded in memory.
const stateCacheSize = 512

// New returns a Service over db.
func New(db *storage.DB, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		db:             db,
		serverName:     opts.ServerName,
		key:            opts.Key,
		defaultVersion: opts.DefaultVersion,
		notifier:       opts.Notifier,
		push:           opts.Push,
		states:         newStateStore(stateCacheSize),
		log:            opts.Log,
		now:            now,
	}
}

// ServerName is the server's Matrix name.
func (s *Service) ServerName() string { return s.serverName }

// RoomVersion returns a room's version, or storage.ErrNotFound for an unknown room.
func (s *Service) RoomVersion(ctx context.Context, roomID id.RoomID) (id.RoomVersion, error) {
	if v, ok := s.versions.Load(roomID); ok {
		return v.(id.RoomVersion), nil
	}
	room, err := s.db.RoomByID(ctx, roomID)
	if err != nil {
		return "", err
	}
	s.versions.Store(roomID, room.Version)
	return room.Version, nil
}

func (s *Service) notify(events []*storage.Event) {
	if s.notifier == nil {
		return
	}
	for _, ev := range events {
		s.notifier.OnEvent(ev)
	}
}

// DefaultVersion is the room version new rooms get when the request names none.
func (s *Service) DefaultVersion() id.RoomVersion { return s.defaultVersion }
