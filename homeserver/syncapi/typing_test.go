package syncapi

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"
)

// typingLog records a tracker's change reports.
type typingLog struct {
	mu      sync.Mutex
	changes [][]id.UserID
	changed chan struct{}
}

func (l *typingLog) record(_ id.RoomID, userIDs []id.UserID) {
	l.mu.Lock()
	l.changes = append(l.changes, userIDs)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *typingLog) all() [][]id.UserID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.changes)
}

func TestTypingTracker(t *testing.T) {
	const room id.RoomID = "!r:hs"
	const alice, bob id.UserID = "@alice:hs", "@bob:hs"
	start := time.UnixMilli(1_000_000)
	log := &typingLog{changed: make(chan struct{}, 1)}
	tr := newTypingTracker(start, log.record)
	if got := tr.position(); got != start.UnixMilli() {
		t.Fatalf("initial position %d, want the start time in ms %d", got, start.UnixMilli())
	}
	if users, pos := tr.room(room); users != nil || pos != 0 {
		t.Errorf("untouched room: %v at %d", users, pos)
	}

	tr.start(room, alice, time.Minute)
	tr.start(room, bob, time.Minute)
	tr.start(room, alice, time.Minute) // a renewal is no change
	users, pos := tr.room(room)
	if diff := cmp.Diff([]id.UserID{alice, bob}, users); diff != "" {
		t.Errorf("typing (-want +got):\n%s", diff)
	}
	if pos != start.UnixMilli()+2 || tr.position() != pos {
		t.Errorf("room position %d, stream position %d; want both %d", pos, tr.position(), start.UnixMilli()+2)
	}

	tr.stop(room, bob)
	tr.stop(room, bob) // not typing: no change
	if users, _ := tr.room(room); !slices.Equal(users, []id.UserID{alice}) {
		t.Errorf("after bob stops: %v", users)
	}

	// A short timeout expires on its own, and the renewal's timer replaces the first one's.
	for range len(log.changed) {
		<-log.changed
	}
	tr.start(room, alice, 20*time.Millisecond)
	select {
	case <-log.changed:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's typing never expired")
	}
	users, pos = tr.room(room)
	if len(users) != 0 || pos != tr.position() {
		t.Errorf("after expiry: %v at %d (stream at %d)", users, pos, tr.position())
	}
	want := [][]id.UserID{{alice}, {alice, bob}, {alice}, {}}
	if diff := cmp.Diff(want, log.all()); diff != "" {
		t.Errorf("reported changes (-want +got):\n%s", diff)
	}
}
