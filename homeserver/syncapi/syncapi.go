// Package syncapi serves /sync and /messages: stream tokens, filters, the long-poll notifier and
// the assembly of each stream of a sync response (one file per stream). Room logic (state,
// visibility, event rendering) comes from homeserver/rooms; SQL from homeserver/storage.
package syncapi

import (
	"log/slog"
	"time"

	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// Service assembles sync responses.
type Service struct {
	db       *storage.DB
	rooms    *rooms.Service
	notifier *Notifier
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Service. notifier must be the one rooms.Service reports events to.
func New(db *storage.DB, roomsSvc *rooms.Service, notifier *Notifier, log *slog.Logger) *Service {
	return &Service{db: db, rooms: roomsSvc, notifier: notifier, log: log, now: time.Now}
}
