package syncapi

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// ReceiptTypeFullyRead is the fully-read marker (content/client-server-api/modules/read_markers.md),
// which clients set with /read_markers or as a receipt type. It is kept as the room's
// m.fully_read account data, {"event_id": …}, and is never an m.receipt.
const ReceiptTypeFullyRead event.ReceiptType = "m.fully_read"

// Bounds on the receipts one /sync response carries. Receipts are "up to" markers that
// replace each other, so what is left out is old news that the next receipt corrects.
const (
	maxSyncReceipts = 1000 // newest, across the rooms of an incremental sync
	maxRoomReceipts = 100  // newest, in one room of an initial sync
)

// ReceiptUpdate is one receipt or marker that a user sets.
type ReceiptUpdate struct {
	Type     event.ReceiptType // m.read, m.read.private or m.fully_read
	ThreadID string            // "" unthreaded; "main" or a thread root's ID, opaque here
	EventID  id.EventID
}

// SetReceipts stores a user's receipts and fully-read marker in a room, all or none
// (data/api/client-server/receipts.yaml, read_markers.yaml). Only joined members may set
// them, and only on events of the room they can see; all are checked before any is stored.
// Neither moves back: one for an event before the current one is accepted and ignored.
func (s *Service) SetReceipts(ctx context.Context, roomID id.RoomID, userID id.UserID, updates []ReceiptUpdate) error {
	for _, u := range updates {
		switch u.Type {
		case event.ReceiptTypeRead, event.ReceiptTypeReadPrivate:
		case ReceiptTypeFullyRead:
			if u.ThreadID != "" {
				return mxerr.InvalidParam.WithMessage("thread_id is not allowed for %s", u.Type)
			}
		default:
			return mxerr.InvalidParam.WithMessage("unknown receipt type %q", u.Type)
		}
	}
	membership, err := s.rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return err
	}
	if membership != string(event.MembershipJoin) {
		return mxerr.Forbidden.WithMessage("you are not in room %s", roomID)
	}
	var receipts []storage.Receipt
	var marker *storage.Event
	for _, u := range updates {
		ev, err := s.rooms.VisibleEvent(ctx, roomID, u.EventID, userID)
		if err != nil {
			return err
		}
		if u.Type == ReceiptTypeFullyRead {
			marker = ev
			continue
		}
		receipts = append(receipts, storage.Receipt{RoomID: roomID, UserID: userID, Type: u.Type, ThreadID: u.ThreadID, EventID: ev.ID, EventPos: ev.StreamPos})
	}
	now := s.now().UnixMilli()
	var stored []storage.Receipt
	var markerMoved bool
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		stored = stored[:0]
		if marker != nil {
			key := storage.AccountData{UserID: userID, RoomID: roomID, Type: event.AccountDataFullyRead.Type}
			var err error
			if markerMoved, err = changeAccountData(ctx, tx, now, key, moveFullyRead(ctx, tx, marker)); err != nil {
				return err
			}
		}
		for _, r := range receipts {
			var err error
			if r.StreamPos, err = tx.NextCounter(ctx, "receipts"); err != nil {
				return err
			}
			r.TS = now
			ok, err := tx.UpsertReceipt(ctx, r)
			if err != nil {
				return err
			}
			if ok {
				stored = append(stored, r)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if markerMoved {
		s.notifier.WakeUser(userID)
	}
	for _, r := range stored {
		s.receiptStored(r)
	}
	return nil
}

// moveFullyRead is the change of an m.fully_read content to the event to: none when the
// marker is at or after it already.
func moveFullyRead(ctx context.Context, tx *storage.Tx, to *storage.Event) func(json.RawMessage) (json.RawMessage, error) {
	return func(current json.RawMessage) (json.RawMessage, error) {
		var marker struct {
			EventID id.EventID `json:"event_id"`
		}
		if json.Unmarshal(current, &marker) == nil && marker.EventID != "" {
			at, err := tx.EventByID(ctx, marker.EventID)
			if err == nil && at.StreamPos >= to.StreamPos {
				return nil, nil
			}
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
		}
		return json.Marshal(map[string]id.EventID{"event_id": to.ID})
	}
}

// receiptStored wakes the long polls that may see the receipt and tells the ephemeral notifier.
func (s *Service) receiptStored(r storage.Receipt) {
	if r.Type == event.ReceiptTypeRead {
		s.notifier.WakeRoom(r.RoomID)
	} else {
		s.notifier.WakeUser(r.UserID) // m.read.private: no one else may see it
	}
	if s.ephemeral != nil {
		s.ephemeral.OnReceipt(r)
	}
}

// receiptsSince returns the receipts in (since, upto] that userID may see in the rooms they
// are joined to, by room, oldest first.
func (s *Service) receiptsSince(ctx context.Context, userID id.UserID, since, upto int64) (map[id.RoomID][]storage.Receipt, error) {
	if since >= upto {
		return nil, nil
	}
	rs, err := s.db.ReceiptsInRange(ctx, userID, since, upto, maxSyncReceipts)
	if err != nil {
		return nil, err
	}
	slices.Reverse(rs)
	out := map[id.RoomID][]storage.Receipt{}
	for _, r := range rs {
		out[r.RoomID] = append(out[r.RoomID], r)
	}
	return out, nil
}

// roomReceipts returns the newest receipts at or below upto that userID may see in a room,
// oldest first.
func (s *Service) roomReceipts(ctx context.Context, userID id.UserID, roomID id.RoomID, upto int64) ([]storage.Receipt, error) {
	rs, err := s.db.RoomReceipts(ctx, userID, roomID, upto, maxRoomReceipts)
	slices.Reverse(rs)
	return rs, err
}
