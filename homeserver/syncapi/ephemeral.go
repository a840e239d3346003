package syncapi

import (
	"cmp"
	"context"
	"slices"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// EphemeralEvent is an m.typing or m.receipt event, or for appservices an m.presence one. /sync
// sends typing and receipts in rooms.join.*.ephemeral without a room ID; appservice
// transactions carry them with one, and presence with its sender
// (content/application-service-api.md, "Pushing ephemeral data").
type EphemeralEvent struct {
	Type    string    `json:"type"`
	RoomID  id.RoomID `json:"room_id,omitzero"`
	Sender  id.UserID `json:"sender,omitzero"`
	Content any       `json:"content"`
}

// EphemeralNotifier hears about typing, receipt and presence changes after they happen, for delivery
// beyond /sync: the application-service layer implements it. Its methods are called in the
// order of the changes, possibly under syncapi's locks, so they must not block and must not
// call back into syncapi.
type EphemeralNotifier interface {
	// OnTyping reports who is typing in a room after a change (nobody: an empty list).
	OnTyping(roomID id.RoomID, userIDs []id.UserID)
	// OnReceipt reports a stored m.read or m.read.private receipt. Fully-read markers are not
	// receipts and are not reported.
	OnReceipt(r storage.Receipt)
	// OnPresence reports presence a local user published.
	OnPresence(p storage.Presence)
}

// TypingContent is the content of m.typing.
type TypingContent struct {
	UserIDs []id.UserID `json:"user_ids"`
}

// TypingEvent renders the users typing in a room as an m.typing event.
func TypingEvent(roomID id.RoomID, userIDs []id.UserID) EphemeralEvent {
	if userIDs == nil {
		userIDs = []id.UserID{}
	}
	return EphemeralEvent{Type: event.EphemeralEventTyping.Type, RoomID: roomID, Content: TypingContent{UserIDs: userIDs}}
}

// ReceiptContent is the content of m.receipt: event ID -> receipt type -> user -> receipt.
type ReceiptContent map[id.EventID]map[event.ReceiptType]map[id.UserID]ReceiptInfo

// ReceiptInfo is one user's receipt in ReceiptContent.
type ReceiptInfo struct {
	TS       int64  `json:"ts"`
	ThreadID string `json:"thread_id,omitempty"`
}

// ReceiptEvents renders receipts as m.receipt events, one per room and thread as
// content/client-server-api/modules/receipts.md ("Server behaviour") recommends: a user may
// have an unthreaded and a threaded receipt on the same event, which one content cannot hold.
// The events come sorted by room, unthreaded first, then by thread.
func ReceiptEvents(receipts []storage.Receipt) []EphemeralEvent {
	type group struct {
		roomID   id.RoomID
		threadID string
	}
	contents := map[group]ReceiptContent{}
	var order []group
	for _, r := range receipts {
		g := group{r.RoomID, r.ThreadID}
		c := contents[g]
		if c == nil {
			c = ReceiptContent{}
			contents[g] = c
			order = append(order, g)
		}
		byType := c[r.EventID]
		if byType == nil {
			byType = map[event.ReceiptType]map[id.UserID]ReceiptInfo{}
			c[r.EventID] = byType
		}
		byUser := byType[r.Type]
		if byUser == nil {
			byUser = map[id.UserID]ReceiptInfo{}
			byType[r.Type] = byUser
		}
		byUser[r.UserID] = ReceiptInfo{TS: r.TS, ThreadID: r.ThreadID}
	}
	slices.SortFunc(order, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.roomID, b.roomID), cmp.Compare(a.threadID, b.threadID))
	})
	out := make([]EphemeralEvent, 0, len(order))
	for _, g := range order {
		out = append(out, EphemeralEvent{Type: event.EphemeralEventReceipt.Type, RoomID: g.roomID, Content: contents[g]})
	}
	return out
}

// streamWindow is what one /sync response covers of the streams besides the events.
type streamWindow struct {
	since, upto StreamToken // since is zero on an initial sync
	// receipts holds, on an incremental sync, the receipts in (since, upto] of the rooms the
	// user is joined to, by room.
	receipts    map[id.RoomID][]storage.Receipt
	accountData *accountDataWindow
}

// roomEphemeral returns a joined room's ephemeral section: its current typing and receipts
// when full (an initial sync, a newly joined room, full_state), otherwise what changed in the
// window. Either is filtered by the room.ephemeral filter.
func (s *Service) roomEphemeral(ctx context.Context, req Request, roomID id.RoomID, w *streamWindow, full bool) ([]any, error) {
	var evs []EphemeralEvent
	userIDs, typingPos := s.typing.room(roomID)
	if full && len(userIDs) > 0 || !full && typingPos > w.since.Typing {
		evs = append(evs, TypingEvent(roomID, userIDs))
	}
	receipts := w.receipts[roomID]
	if full {
		var err error
		if receipts, err = s.roomReceipts(ctx, req.UserID, roomID, w.upto.Receipts); err != nil {
			return nil, err
		}
	}
	evs = append(evs, ReceiptEvents(receipts)...)
	return filterEphemeral(req, roomID, evs), nil
}

// filterEphemeral applies the room.ephemeral filter to a room's ephemeral events and drops
// their room IDs, which /sync does not send.
func filterEphemeral(req Request, roomID id.RoomID, evs []EphemeralEvent) []any {
	var part *mautrix.FilterPart
	if req.Filter.Room != nil {
		part = req.Filter.Room.Ephemeral
	}
	out := make([]any, 0, len(evs))
	for _, ev := range evs {
		if MatchEvent(part, FilterEvent{RoomID: roomID, Type: ev.Type}) {
			ev.RoomID = ""
			out = append(out, ev)
		}
	}
	return out
}
