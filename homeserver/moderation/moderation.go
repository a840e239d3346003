// Package moderation keeps what users report to the server's admins — events, rooms and users
// (content/client-server-api/modules/report_content.md) — for the admin API to list.
package moderation

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// The kinds of report.
const (
	KindEvent = "event"
	KindRoom  = "room"
	KindUser  = "user"
)

// Service records and lists reports.
type Service struct {
	db       *storage.DB
	rooms    *rooms.Service
	accounts *accounts.Service
	now      func() time.Time
}

// New returns a Service.
func New(db *storage.DB, roomsSvc *rooms.Service, accountsSvc *accounts.Service) *Service {
	return &Service{db: db, rooms: roomsSvc, accounts: accountsSvc, now: time.Now}
}

// ReportEvent reports an event of a room the reporter is joined to and may see; anything else
// is M_NOT_FOUND, as the spec says, so that a report cannot probe for events.
func (s *Service) ReportEvent(ctx context.Context, reporter id.UserID, roomID id.RoomID, eventID id.EventID, reason string) error {
	notFound := mxerr.NotFound.WithMessage("the event was not found or you are not joined to the room")
	membership, err := s.rooms.Membership(ctx, roomID, reporter)
	if err != nil {
		return err
	}
	if membership != string(event.MembershipJoin) {
		return notFound
	}
	ev, err := s.rooms.VisibleEvent(ctx, roomID, eventID, reporter)
	if isNotFound(err) {
		return notFound
	} else if err != nil {
		return err
	}
	return s.add(ctx, storage.Report{Kind: KindEvent, Reporter: reporter, RoomID: roomID, EventID: ev.ID, UserID: ev.Sender, Reason: reason})
}

// ReportRoom reports a room the server knows; the reporter need not be in it.
func (s *Service) ReportRoom(ctx context.Context, reporter id.UserID, roomID id.RoomID, reason string) error {
	if _, err := s.db.RoomByID(ctx, roomID); errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound.WithMessage("room %s not found", roomID)
	} else if err != nil {
		return err
	}
	return s.add(ctx, storage.Report{Kind: KindRoom, Reporter: reporter, RoomID: roomID, Reason: reason})
}

// ReportUser reports a user of this server.
func (s *Service) ReportUser(ctx context.Context, reporter, userID id.UserID, reason string) error {
	if _, err := s.accounts.Profile(ctx, userID); err != nil {
		if isNotFound(err) {
			return mxerr.NotFound.WithMessage("user %s not found", userID)
		}
		return err
	}
	return s.add(ctx, storage.Report{Kind: KindUser, Reporter: reporter, UserID: userID, Reason: reason})
}

func (s *Service) add(ctx context.Context, r storage.Report) error {
	r.ReceivedTS = s.now().UnixMilli()
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.AddReport(ctx, r)
		return err
	})
}

// Reports returns up to limit reports older than the report before (0: the newest), newest
// first, and the before of the next page (0 when there is none).
func (s *Service) Reports(ctx context.Context, before int64, limit int) ([]storage.Report, int64, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rs, err := s.db.Reports(ctx, before, limit)
	if err != nil || len(rs) < limit {
		return rs, 0, err
	}
	return rs, rs[len(rs)-1].ID, nil
}

// isNotFound reports whether err is an M_NOT_FOUND answer.
func isNotFound(err error) bool { return errors.Is(err, mxerr.NotFound) }
