// Package syncapi serves /sync and /messages: stream tokens, filters, the long-poll notifier and
// the assembly of each stream of a sync response (one file per stream). It also owns the
// per-user data that /sync delivers: typing notifications (in memory), read receipts, account
// data and presence.
// Room logic (state, visibility, event rendering) comes from homeserver/rooms; SQL from
// homeserver/storage.
package syncapi

import (
	"log/slog"
	"time"

	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// Service assembles sync responses.
type Service struct {
	db        *storage.DB
	rooms     *rooms.Service
	notifier  *Notifier
	ephemeral EphemeralNotifier // nil: typing and receipts go to /sync only
	typing    *typingTracker
	presence  *presenceTracker
	log       *slog.Logger
	now       func() time.Time
}

// New returns a Service. notifier must be the one rooms.Service reports events to; ephemeral,
// which may be nil, hears about typing and receipt changes. The Service itself is a
// rooms.Notifier too, which must hear every event (see OnEvent).
func New(db *storage.DB, roomsSvc *rooms.Service, notifier *Notifier, ephemeral EphemeralNotifier, log *slog.Logger) *Service {
	s := &Service{db: db, rooms: roomsSvc, notifier: notifier, ephemeral: ephemeral, log: log, now: time.Now}
	s.typing = newTypingTracker(s.now(), s.typingChanged)
	s.presence = newPresenceTracker()
	return s
}

// OnEvent implements rooms.Notifier: a member who leaves a room stops typing in it, and an
// event a local user sends counts as their activity for presence. It does not block.
func (s *Service) OnEvent(ev *storage.Event) {
	s.stopTypingOfLeaver(ev)
	s.noteSender(ev)
}
