package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// presenceIn returns the m.presence contents of a sync response by sender.
func presenceIn(resp *mautrix.RespSync) map[id.UserID]event.PresenceEventContent {
	out := map[id.UserID]event.PresenceEventContent{}
	for _, ev := range resp.Presence.Events {
		if ev.Type == event.EphemeralEventPresence {
			_ = ev.Content.ParseRaw(ev.Type)
			out[ev.Sender] = *ev.Content.AsPresence()
		}
	}
	return out
}

func TestPresence(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		dave := ts.register(t, "dave")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))

		// A sync brings its user online; a roommate's sync shows it.
		online := url.Values{"set_presence": {"online"}}
		ts.sync(t, alice, online)
		seen := presenceIn(ts.sync(t, bob, online))
		if p := seen[alice.UserID]; p.Presence != event.PresenceOnline || !p.CurrentlyActive {
			t.Errorf("bob's initial sync shows alice as %+v, want online and currently active", p)
		}
		if _, ok := seen[carol.UserID]; ok {
			t.Error("bob sees the presence of carol, with whom he shares no room")
		}

		// A change reaches a waiting roommate.
		since := ts.sync(t, bob, online).NextBatch
		wait := longPollAsync(t, ts, bob, since)
		if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceUnavailable, StatusMsg: "in a meeting"}); err != nil {
			t.Fatal(err)
		}
		resp, _ := wait()
		if p := presenceIn(resp)[alice.UserID]; p.Presence != event.PresenceUnavailable || p.StatusMessage != "in a meeting" {
			t.Errorf("bob's long poll shows alice as %+v, want unavailable, in a meeting", p)
		}
		got, err := bob.GetPresence(ctx, alice.UserID)
		if err != nil || got.Presence != event.PresenceUnavailable || got.StatusMsg != "in a meeting" {
			t.Errorf("GET alice's presence as bob = %+v, %v", got, err)
		}
		// A manual unavailable survives her syncs.
		ts.sync(t, alice, online)
		if got, _ := alice.GetOwnPresence(ctx); got.Presence != event.PresenceUnavailable {
			t.Errorf("after a sync alice is %s, want still unavailable", got.Presence)
		}

		// set_presence=offline leaves a user offline.
		ts.sync(t, dave, url.Values{"set_presence": {"offline"}})
		if got, err := dave.GetOwnPresence(ctx); err != nil || got.Presence != event.PresenceOffline {
			t.Errorf("dave after syncing with set_presence=offline: %+v, %v", got, err)
		}

		statusPath := func(user id.UserID) string {
			return "/_matrix/client/v3/presence/" + url.PathEscape(string(user)) + "/status"
		}
		tests := []struct {
			name, method, path, token string
			body                      any
			status                    int
			errcode                   string
		}{
			{"someone who shares no room", http.MethodGet, statusPath(alice.UserID), carol.AccessToken, nil, http.StatusForbidden, "M_FORBIDDEN"},
			{"for someone else", http.MethodPut, statusPath(alice.UserID), bob.AccessToken, map[string]any{"presence": "offline"}, http.StatusForbidden, "M_FORBIDDEN"},
			{"an unknown state", http.MethodPut, statusPath(bob.UserID), bob.AccessToken, map[string]any{"presence": "busy"}, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"no state", http.MethodPut, statusPath(bob.UserID), bob.AccessToken, map[string]any{}, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"an unknown set_presence", http.MethodGet, "/_matrix/client/v3/sync?set_presence=busy", bob.AccessToken, nil, http.StatusBadRequest, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, tc.token, tc.body), tc.status, tc.errcode)
			})
		}
		if got, _ := bob.GetOwnPresence(ctx); got.Presence != event.PresenceOnline {
			t.Errorf("bob after refused changes: %s, want still online", got.Presence)
		}
	})
}
