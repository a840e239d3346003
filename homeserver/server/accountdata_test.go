package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// accountDataIn returns the contents of account data events by type.
func accountDataIn(evs []*event.Event) map[string]string {
	out := map[string]string{}
	for _, ev := range evs {
		out[ev.Type.Type] = string(ev.Content.VeryRaw)
	}
	return out
}

// roomAccountDataIn returns the account data of a joined room in a sync response, by type;
// nil when the room is not in it.
func roomAccountDataIn(resp *mautrix.RespSync, roomID id.RoomID) map[string]string {
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return nil
	}
	return accountDataIn(jr.AccountData.Events)
}

func accountDataPath(userID id.UserID, rest string) string {
	return "/_matrix/client/v3/user/" + url.PathEscape(string(userID)) + rest
}

func TestAccountData(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})

		if err := alice.SetAccountData(ctx, "org.example.settings", map[string]string{"theme": "dark"}); err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := alice.GetAccountData(ctx, "org.example.settings", &got); err != nil || got["theme"] != "dark" {
			t.Errorf("GET global account data = %v, %v", got, err)
		}
		initial := ts.sync(t, alice, url.Values{})
		if c := accountDataIn(initial.AccountData.Events)["org.example.settings"]; c != `{"theme":"dark"}` {
			t.Errorf("initial sync's account data: %q", c)
		}

		t.Run("incremental sync wakes and sends what changed", func(t *testing.T) {
			since := ts.sync(t, alice, url.Values{}).NextBatch
			wait := longPollAsync(t, ts, alice, since)
			if err := alice.SetAccountData(ctx, "org.example.other", map[string]int{"n": 1}); err != nil {
				t.Fatal(err)
			}
			resp, elapsed := wait()
			global := accountDataIn(resp.AccountData.Events)
			if len(global) != 1 || global["org.example.other"] != `{"n":1}` {
				t.Errorf("long poll after %s sent %v, want only the new object", elapsed, global)
			}
			if next := ts.sync(t, alice, url.Values{"since": {resp.NextBatch}}); len(next.AccountData.Events) != 0 {
				t.Errorf("the next sync sends the account data again: %v", accountDataIn(next.AccountData.Events))
			}
		})

		t.Run("room account data", func(t *testing.T) {
			since := ts.sync(t, alice, url.Values{}).NextBatch
			if err := alice.SetRoomAccountData(ctx, roomID, "org.example.room", map[string]bool{"muted": true}); err != nil {
				t.Fatal(err)
			}
			resp := ts.sync(t, alice, url.Values{"since": {since}})
			if c := roomAccountDataIn(resp, roomID)["org.example.room"]; c != `{"muted":true}` {
				t.Errorf("incremental sync's room account data: %v", roomAccountDataIn(resp, roomID))
			}
			if n := len(resp.Rooms.Join[roomID].Timeline.Events); n != 0 {
				t.Errorf("the room came with %d timeline events for an account data change", n)
			}
			if _, ok := accountDataIn(resp.AccountData.Events)["org.example.room"]; ok {
				t.Error("room account data sent as global account data")
			}
			if c := roomAccountDataIn(ts.sync(t, alice, url.Values{}), roomID)["org.example.room"]; c != `{"muted":true}` {
				t.Errorf("initial sync's room account data: %v", c)
			}
			var data map[string]bool
			if err := alice.GetRoomAccountData(ctx, roomID, "org.example.room", &data); err != nil || !data["muted"] {
				t.Errorf("GET room account data = %v, %v", data, err)
			}
			// No fallback from a room to the global account data, or the other way.
			wantError(t, ts.do(t, http.MethodGet, accountDataPath(alice.UserID, "/account_data/org.example.room"), alice.AccessToken, nil), http.StatusNotFound, "M_NOT_FOUND")
		})

		t.Run("filtered", func(t *testing.T) {
			filter := `{"account_data":{"not_types":["org.example.settings"]},"room":{"account_data":{"types":["nothing"]}}}`
			resp := ts.sync(t, alice, url.Values{"filter": {filter}})
			global := accountDataIn(resp.AccountData.Events)
			if _, ok := global["org.example.settings"]; ok || global["org.example.other"] == "" {
				t.Errorf("global account data with not_types: %v", global)
			}
			if jr := resp.Rooms.Join[roomID]; jr != nil && len(jr.AccountData.Events) != 0 {
				t.Errorf("room account data with a types filter that matches none: %v", roomAccountDataIn(resp, roomID))
			}
		})

		t.Run("fully-read marker", func(t *testing.T) {
			first := mustSend(t, alice, roomID, "first")
			second := mustSend(t, alice, roomID, "second")
			since := ts.sync(t, alice, url.Values{}).NextBatch
			if err := alice.SetReadMarkers(ctx, roomID, map[string]id.EventID{"m.fully_read": second}); err != nil {
				t.Fatal(err)
			}
			want := `{"event_id":"` + string(second) + `"}`
			resp := ts.sync(t, alice, url.Values{"since": {since}})
			if c := roomAccountDataIn(resp, roomID)["m.fully_read"]; c != want {
				t.Errorf("m.fully_read in room account data = %q, want %q", c, want)
			}
			// It never moves back.
			if err := alice.SetReadMarkers(ctx, roomID, map[string]id.EventID{"m.fully_read": first}); err != nil {
				t.Fatal(err)
			}
			var marker struct {
				EventID id.EventID `json:"event_id"`
			}
			if err := alice.GetRoomAccountData(ctx, roomID, "m.fully_read", &marker); err != nil || marker.EventID != second {
				t.Errorf("m.fully_read after a marker on an earlier event = %v, %v; want %s", marker.EventID, err, second)
			}
			if next := ts.sync(t, alice, url.Values{"since": {resp.NextBatch}}); roomAccountDataIn(next, roomID)["m.fully_read"] != "" {
				t.Error("a marker that did not move was sent again")
			}
		})

		t.Run("refused", func(t *testing.T) {
			global := func(user id.UserID, typ string) string { return accountDataPath(user, "/account_data/"+typ) }
			room := func(roomID string, typ string) string {
				return accountDataPath(alice.UserID, "/rooms/"+url.PathEscape(roomID)+"/account_data/"+typ)
			}
			tests := []struct {
				name         string
				method, path string
				token        string
				body         any
				status       int
				errcode      string
			}{
				{"someone else's", http.MethodGet, global(alice.UserID, "org.example.settings"), bob.AccessToken, nil, http.StatusForbidden, "M_FORBIDDEN"},
				{"for someone else", http.MethodPut, global(alice.UserID, "org.example.x"), bob.AccessToken, map[string]any{}, http.StatusForbidden, "M_FORBIDDEN"},
				{"unknown type", http.MethodGet, global(alice.UserID, "org.example.none"), alice.AccessToken, nil, http.StatusNotFound, "M_NOT_FOUND"},
				{"m.push_rules", http.MethodPut, global(alice.UserID, "m.push_rules"), alice.AccessToken, map[string]any{}, http.StatusMethodNotAllowed, "M_BAD_JSON"},
				{"m.fully_read", http.MethodPut, room(string(roomID), "m.fully_read"), alice.AccessToken, map[string]any{"event_id": "$x"}, http.StatusMethodNotAllowed, "M_BAD_JSON"},
				{"not an object", http.MethodPut, global(alice.UserID, "org.example.x"), alice.AccessToken, []int{1}, http.StatusBadRequest, "M_BAD_JSON"},
				{"not a room ID", http.MethodPut, room("general", "org.example.x"), alice.AccessToken, map[string]any{}, http.StatusBadRequest, "M_INVALID_PARAM"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, ts.do(t, tc.method, tc.path, tc.token, tc.body), tc.status, tc.errcode)
				})
			}
			if c := accountDataIn(ts.sync(t, alice, url.Values{}).AccountData.Events); c["org.example.x"] != "" || c["m.push_rules"] == `{"global":{}}` {
				t.Errorf("a refused request stored something: %v", c)
			}
		})
	})
}

func TestRoomTags(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		since := ts.sync(t, alice, url.Values{}).NextBatch

		if err := alice.AddTag(ctx, roomID, "u.work", 0.25); err != nil {
			t.Fatal(err)
		}
		if err := alice.AddTag(ctx, roomID, event.RoomTagFavourite, 0.5); err != nil {
			t.Fatal(err)
		}
		if err := alice.RemoveTag(ctx, roomID, "u.work"); err != nil {
			t.Fatal(err)
		}
		if err := alice.RemoveTag(ctx, roomID, "u.never-set"); err != nil {
			t.Errorf("removing a tag the room does not have: %v", err)
		}
		tags, err := alice.GetTags(ctx, roomID)
		if order, _ := tags.Tags[event.RoomTagFavourite].Order.Float64(); err != nil || len(tags.Tags) != 1 || order != 0.5 {
			t.Errorf("GET tags = %+v, %v; want m.favourite at 0.5", tags, err)
		}
		resp := ts.sync(t, alice, url.Values{"since": {since}})
		var synced event.TagEventContent
		if err := json.Unmarshal([]byte(roomAccountDataIn(resp, roomID)["m.tag"]), &synced); err != nil || len(synced.Tags) != 1 || synced.Tags[event.RoomTagFavourite].Order != tags.Tags[event.RoomTagFavourite].Order {
			t.Errorf("m.tag in sync = %+v, %v; want what GET says", synced, err)
		}

		// Concurrent changes of one room's tags: none is lost.
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if err := alice.AddTag(ctx, roomID, event.RoomTag(fmt.Sprintf("u.tag%d", i)), 0); err != nil {
					t.Errorf("tag %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if tags, err := alice.GetTags(ctx, roomID); err != nil || len(tags.Tags) != 21 {
			t.Errorf("after 20 concurrent tags: %d tags, %v; want 21", len(tags.Tags), err)
		}

		tagPath := accountDataPath(alice.UserID, "/rooms/"+url.PathEscape(string(roomID))+"/tags/u.x")
		wantError(t, ts.do(t, http.MethodPut, tagPath, alice.AccessToken, map[string]any{"order": "first"}), http.StatusBadRequest, "M_INVALID_PARAM")
		wantError(t, ts.do(t, http.MethodPut, tagPath, bob.AccessToken, map[string]any{"order": 0.1}), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, ts.do(t, http.MethodGet, accountDataPath(alice.UserID, "/rooms/"+url.PathEscape(string(roomID))+"/tags"), bob.AccessToken, nil), http.StatusForbidden, "M_FORBIDDEN")
		var raw json.RawMessage
		if err := alice.GetRoomAccountData(ctx, roomID, "m.tag", &raw); err != nil {
			t.Fatal(err)
		}
		if tags, _ := alice.GetTags(ctx, roomID); len(tags.Tags) != 21 {
			t.Errorf("a refused tag was stored: %s", raw)
		}
	})
}
