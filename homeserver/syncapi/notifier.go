package syncapi

import (
	"sync"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// Notifier wakes long-polling /sync requests when an event arrives in a room they watch, or
// when a membership event names their user (an invite to a room they are not in yet), and on
// changes outside the event stream: typing and receipts in a room (WakeRoom), a user's own
// private data (WakeUser), a to-device message for one of their devices (WakeDevice).
// A listener registers before its request reads the database, so an event committed after the
// read always wakes it; an event committed before is already in what it read.
type Notifier struct {
	mu     sync.Mutex
	byRoom map[id.RoomID]map[*Listener]struct{}
	byUser map[id.UserID]map[*Listener]struct{}
}

// Listener is one waiting request. C is closed on the first relevant event.
type Listener struct {
	C      chan struct{}
	n      *Notifier
	user   id.UserID
	device id.DeviceID // "" when the request has none
	rooms  []id.RoomID
	closed bool
}

// NewNotifier returns a notifier with no listeners.
func NewNotifier() *Notifier {
	return &Notifier{byRoom: map[id.RoomID]map[*Listener]struct{}{}, byUser: map[id.UserID]map[*Listener]struct{}{}}
}

// Listen registers a listener for user and the rooms they are in. Call Close when done.
func (n *Notifier) Listen(user id.UserID, rooms []id.RoomID) *Listener {
	return n.ListenDevice(user, "", rooms)
}

// ListenDevice is Listen for a request of one of user's devices, which WakeDevice wakes too.
func (n *Notifier) ListenDevice(user id.UserID, device id.DeviceID, rooms []id.RoomID) *Listener {
	l := &Listener{C: make(chan struct{}), n: n, user: user, device: device, rooms: rooms}
	n.mu.Lock()
	defer n.mu.Unlock()
	add(n.byUser, user, l)
	for _, r := range rooms {
		add(n.byRoom, r, l)
	}
	return l
}

// Close unregisters the listener.
func (l *Listener) Close() {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	remove(n.byUser, l.user, l)
	for _, r := range l.rooms {
		remove(n.byRoom, r, l)
	}
}

// OnEvent implements rooms.Notifier.
func (n *Notifier) OnEvent(ev *storage.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.byRoom[ev.RoomID] {
		l.wake()
	}
	if ev.Type == event.StateMember.Type && ev.StateKey != nil {
		for l := range n.byUser[id.UserID(*ev.StateKey)] {
			l.wake()
		}
	}
}

// WakeRoom wakes every listener watching a room, for changes in it that are not events
// (typing, receipts).
func (n *Notifier) WakeRoom(roomID id.RoomID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.byRoom[roomID] {
		l.wake()
	}
}

// WakeUser wakes every listener of a user, for changes outside rooms (account data, to-device).
func (n *Notifier) WakeUser(user id.UserID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.byUser[user] {
		l.wake()
	}
}

// WakeDevice wakes the listeners of one device of a user, for a to-device message to it.
// It implements keys.DeviceWaker.
func (n *Notifier) WakeDevice(user id.UserID, device id.DeviceID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.byUser[user] {
		if l.device == device {
			l.wake()
		}
	}
}

func (l *Listener) wake() {
	if !l.closed {
		l.closed = true
		close(l.C)
	}
}

func add[K comparable](m map[K]map[*Listener]struct{}, k K, l *Listener) {
	set := m[k]
	if set == nil {
		set = map[*Listener]struct{}{}
		m[k] = set
	}
	set[l] = struct{}{}
}

func remove[K comparable](m map[K]map[*Listener]struct{}, k K, l *Listener) {
	set := m[k]
	delete(set, l)
	if len(set) == 0 {
		delete(m, k)
	}
}
