package appservice

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/syncapi"
)

// maxQueuedEphemeral bounds the typing, receipt and presence updates waiting for one appservice's next
// transaction. Past it the oldest update is dropped: ephemeral data is best effort.
const maxQueuedEphemeral = 1000

// OnTyping implements syncapi.EphemeralNotifier: it queues who is typing in roomID for the
// appservices that receive ephemeral data, to go with their next transaction. It never blocks.
func (s *Sender) OnTyping(roomID id.RoomID, userIDs []id.UserID) {
	s.queueEphemeral(ephemeralKey{roomID: roomID}, ephemeralUpdate{typing: slices.Clone(userIDs)})
}

// OnReceipt implements syncapi.EphemeralNotifier like OnTyping, for a receipt.
func (s *Sender) OnReceipt(r storage.Receipt) {
	s.queueEphemeral(ephemeralKey{roomID: r.RoomID, userID: r.UserID, receiptType: r.Type, threadID: r.ThreadID}, ephemeralUpdate{receipt: r})
}

// OnPresence implements syncapi.EphemeralNotifier like OnTyping, for presence a local user
// published.
func (s *Sender) OnPresence(p storage.Presence) {
	s.queueEphemeral(ephemeralKey{userID: p.UserID, presence: true}, ephemeralUpdate{presence: p})
}

func (s *Sender) queueEphemeral(k ephemeralKey, u ephemeralUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if w.reg.ReceiveEphemeral {
			w.ephemeral.put(k, u)
			w.nudge()
		}
	}
}

// takeEphemeral empties the worker's ephemeral queue and returns what of it interests the
// appservice, rendered for a transaction: typing and receipts in the rooms it is interested
// in (as for events, content/application-service-api.md "Pushing ephemeral data"), private
// receipts only of users in its namespace, presence of the users it shares a room with or
// holds. If the interest cannot be read, the updates go
// back in the queue.
func (w *worker) takeEphemeral(ctx context.Context) ([]syncapi.EphemeralEvent, error) {
	updates := w.ephemeral.take()
	var typing, presence []syncapi.EphemeralEvent
	var receipts []storage.Receipt
	now := w.s.opts.Now()
	for i, u := range updates {
		var ok bool
		var err error
		if u.key.presence {
			ok, err = w.s.interest.interestedInPresence(ctx, w.reg, u.key.userID)
		} else {
			ok, err = w.s.interest.interestedInRoom(ctx, w.reg, u.key.roomID)
		}
		if err != nil {
			w.ephemeral.putBack(updates[i:])
			return nil, err
		}
		switch {
		case !ok:
		case u.key.presence:
			presence = append(presence, syncapi.PresenceEphemeral(u.presence, now))
		case u.key.receiptType == "":
			typing = append(typing, syncapi.TypingEvent(u.key.roomID, u.typing))
		case u.key.receiptType != event.ReceiptTypeReadPrivate || w.reg.InterestedInUser(u.key.userID, w.s.registry.ServerName()):
			receipts = append(receipts, u.receipt)
		}
	}
	return append(append(typing, syncapi.ReceiptEvents(receipts)...), presence...), nil
}

// interestedInPresence reports whether a user's presence goes to reg: the user is in its
// namespace or shares a joined room with it, as a client sees the presence of its roommates.
func (in *interest) interestedInPresence(ctx context.Context, reg *Registration, userID id.UserID) (bool, error) {
	if reg.InterestedInUser(userID, in.serverName) {
		return true, nil
	}
	rooms, err := in.db.RoomsOfUser(ctx, userID)
	if err != nil {
		return false, err
	}
	for roomID, membership := range rooms {
		if membership != string(event.MembershipJoin) {
			continue
		}
		if ok, err := in.interestedInRoom(ctx, reg, roomID); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// interestedInRoom reports whether events in the room go to reg whoever sends them: the room
// is in its room namespace, or interests it by its members or alias.
func (in *interest) interestedInRoom(ctx context.Context, reg *Registration, roomID id.RoomID) (bool, error) {
	if reg.InterestedInRoom(roomID) {
		return true, nil
	}
	return in.roomInterests(ctx, reg, roomID)
}

// ephemeralKey names what an update replaces: who types in a room (receiptType ""), one
// user's receipt of one type and thread, or one user's presence.
type ephemeralKey struct {
	roomID      id.RoomID
	userID      id.UserID
	receiptType event.ReceiptType
	threadID    string
	presence    bool
}

type ephemeralUpdate struct {
	key      ephemeralKey
	seq      uint64 // queue order
	typing   []id.UserID
	receipt  storage.Receipt
	presence storage.Presence
}

// ephemeralQueue holds a worker's pending ephemeral updates in memory, the latest per key.
// They are attached to the next transaction the worker builds; once that body is stored it
// never changes, so a retry resends exactly what the first attempt carried. A restart or a
// changed registration loses what is queued.
type ephemeralQueue struct {
	mu      sync.Mutex
	seq     uint64
	pending map[ephemeralKey]ephemeralUpdate
}

// put queues u under k, replacing an older update of k, and drops the oldest update when the
// queue is full.
func (q *ephemeralQueue) put(k ephemeralKey, u ephemeralUpdate) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = make(map[ephemeralKey]ephemeralUpdate)
	}
	q.seq++
	u.key, u.seq = k, q.seq
	q.pending[k] = u
	if len(q.pending) > maxQueuedEphemeral {
		oldest := u
		for _, p := range q.pending {
			if p.seq < oldest.seq {
				oldest = p
			}
		}
		delete(q.pending, oldest.key)
	}
}

// take empties the queue and returns its updates in queue order.
func (q *ephemeralQueue) take() []ephemeralUpdate {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]ephemeralUpdate, 0, len(q.pending))
	for _, u := range q.pending {
		out = append(out, u)
	}
	clear(q.pending)
	slices.SortFunc(out, func(a, b ephemeralUpdate) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// putBack returns taken updates to the queue, except where a newer update of the same key
// arrived meanwhile.
func (q *ephemeralQueue) putBack(updates []ephemeralUpdate) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = make(map[ephemeralKey]ephemeralUpdate)
	}
	for _, u := range updates {
		if _, newer := q.pending[u.key]; !newer && len(q.pending) < maxQueuedEphemeral {
			q.pending[u.key] = u
		}
	}
}
