package syncapi

import (
	"testing"
	"time"

	"causeway/homeserver/storage"
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
