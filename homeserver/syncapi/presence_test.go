package syncapi

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
	"causeway/homeserver/serverkey"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestNextPresence(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	ms := func(d time.Duration) int64 { return ago(d).UnixMilli() }
	tests := []struct {
		name        string
		pub         storage.Presence
		act         activity
		wantState   string
		wantActive  bool
		wantChanged bool
	}{
		{"activity brings an offline user online",
			storage.Presence{State: presenceOffline, LastActiveTS: ms(time.Hour)},
			activity{lastActive: ago(time.Second), syncing: 1}, presenceOnline, true, true},
		{"activity brings an idle user back",
			storage.Presence{State: presenceUnavailable, LastActiveTS: ms(10 * time.Minute)},
			activity{lastActive: ago(time.Second), syncing: 1}, presenceOnline, true, true},
		{"idle for longer than idleAfter",
			storage.Presence{State: presenceOnline, LastActiveTS: ms(6 * time.Minute)},
			activity{syncing: 1}, presenceUnavailable, false, true},
		{"no longer currently active",
			storage.Presence{State: presenceOnline, LastActiveTS: ms(2 * time.Minute), CurrentlyActive: true},
			activity{syncing: 1}, presenceOnline, false, true},
		{"still currently active: newer activity publishes nothing",
			storage.Presence{State: presenceOnline, LastActiveTS: ms(20 * time.Second), CurrentlyActive: true},
			activity{lastActive: ago(time.Second), syncing: 1}, presenceOnline, true, false},
		{"no sync for longer than offlineAfter",
			storage.Presence{State: presenceOnline, LastActiveTS: ms(2 * time.Minute)},
			activity{syncEnded: ago(31 * time.Second)}, presenceOffline, false, true},
		{"between two syncs",
			storage.Presence{State: presenceOnline, LastActiveTS: ms(2 * time.Minute)},
			activity{syncEnded: ago(5 * time.Second)}, presenceOnline, false, false},
		{"set unavailable by hand, syncing, no activity",
			storage.Presence{State: presenceUnavailable, LastActiveTS: ms(time.Minute), StatusMsg: "away"},
			activity{syncing: 1}, presenceUnavailable, false, false},
		{"offline stays offline without activity",
			storage.Presence{State: presenceOffline},
			activity{}, presenceOffline, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := nextPresence(tc.pub, tc.act, now)
			if next.State != tc.wantState || next.CurrentlyActive != tc.wantActive || changed != tc.wantChanged {
				t.Errorf("nextPresence = %s, currently_active %v, changed %v; want %s, %v, %v",
					next.State, next.CurrentlyActive, changed, tc.wantState, tc.wantActive, tc.wantChanged)
			}
			if next.StatusMsg != tc.pub.StatusMsg {
				t.Errorf("the status message changed to %q", next.StatusMsg)
			}
		})
	}
}

// TestPresenceLoop runs the presence loop's pass (refreshPresence) on a real database with a
// clock the test moves: a user who syncs is online, becomes unavailable when idle and offline
// once no sync has come for offlineAfter.
func TestPresenceLoop(t *testing.T) {
	db := storagetest.SQLite(t)
	key, err := serverkey.LoadOrGenerate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	notifier := NewNotifier()
	roomsSvc := rooms.New(db, rooms.Options{ServerName: "hs", Key: key, Notifier: notifier, Log: slog.New(slog.DiscardHandler), Now: clock})
	s := New(db, roomsSvc, notifier, nil, slog.New(slog.DiscardHandler))
	s.now = clock
	ctx := context.Background()
	const alice id.UserID = "@alice:hs"
	state := func() string {
		t.Helper()
		p, err := s.publishedPresence(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		return p.State
	}

	ended, err := s.syncStarted(ctx, alice, presenceOnline)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(); got != presenceOnline {
		t.Fatalf("after a sync starts: %s, want online", got)
	}
	now = now.Add(6 * time.Minute) // still syncing, but idle
	if err := s.refreshPresence(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != presenceUnavailable {
		t.Errorf("idle for 6 minutes: %s, want unavailable", got)
	}
	ended()
	now = now.Add(offlineAfter + time.Second)
	if err := s.refreshPresence(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != presenceOffline {
		t.Errorf("no sync for %s: %s, want offline", offlineAfter+time.Second, got)
	}
	if n := len(s.presence.snapshot()); n != 0 {
		t.Errorf("the tracker still holds %d users once alice is offline", n)
	}
}
