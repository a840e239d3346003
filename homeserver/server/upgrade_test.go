package server_test

import (
	"context"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// stateOf reads a state event's content in a room as cli.
func stateOf(t *testing.T, cli *mautrix.Client, roomID id.RoomID, evType event.Type) map[string]any {
	t.Helper()
	var content map[string]any
	if err := cli.StateEvent(context.Background(), roomID, evType, "", &content); err != nil {
		t.Fatalf("%s of %s: %v", evType.Type, roomID, err)
	}
	return content
}

func TestRoomUpgrade(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		old := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomVersion: "10", Name: "Upstairs",
			Topic: "what happens upstairs", RoomAliasName: "up", Visibility: "public"})
		mustJoin(t, bob, string(old))
		if err := bob.AddTag(ctx, old, event.RoomTagFavourite, 0.5); err != nil {
			t.Fatal(err)
		}

		upgrade := func(cli *mautrix.Client, roomID id.RoomID, body map[string]any) apiResponse {
			return ts.do(t, http.MethodPost, roomPath(roomID, "/upgrade"), cli.AccessToken, body)
		}
		wantError(t, upgrade(bob, old, map[string]any{"new_version": "11"}), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, upgrade(alice, old, map[string]any{"new_version": "99"}), http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION")
		wantError(t, upgrade(alice, old, map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")

		r := upgrade(alice, old, map[string]any{"new_version": "11"})
		wantOK(t, r)
		replacement := id.RoomID(r.object(t)["replacement_room"].(string))

		create := stateOf(t, alice, replacement, event.StateCreate)
		predecessor, _ := create["predecessor"].(map[string]any)
		if create["room_version"] != "11" || predecessor["room_id"] != string(old) || predecessor["event_id"] == "" {
			t.Errorf("the new room's create content = %v, want version 11 and the old room as predecessor", create)
		}
		if n := stateOf(t, alice, replacement, event.StateRoomName)["name"]; n != "Upstairs" {
			t.Errorf("the new room's name = %v", n)
		}
		if jr := stateOf(t, alice, replacement, event.StateJoinRules)["join_rule"]; jr != "public" {
			t.Errorf("the new room's join rule = %v", jr)
		}
		if a := stateOf(t, alice, replacement, event.StateCanonicalAlias)["alias"]; a != "#up:localhost" {
			t.Errorf("the new room's canonical alias = %v", a)
		}
		if resolved, err := alice.ResolveAlias(ctx, "#up:localhost"); err != nil || resolved.RoomID != replacement {
			t.Errorf("#up:localhost resolves to %v, %v; want the new room", resolved, err)
		}
		tomb := stateOf(t, bob, old, event.StateTombstone)
		if tomb["replacement_room"] != string(replacement) {
			t.Errorf("tombstone = %v", tomb)
		}
		if pl := stateOf(t, alice, old, event.StatePowerLevels); pl["events_default"] != float64(50) || pl["invite"] != float64(50) {
			t.Errorf("the old room's power levels = %v, want events_default and invite at 50", pl)
		}
		wantError(t, ts.do(t, http.MethodPut, roomPath(old, "/send/m.room.message/late"), bob.AccessToken, map[string]any{"msgtype": "m.text", "body": "hello?"}), http.StatusForbidden, "M_FORBIDDEN")
		for roomID, want := range map[id.RoomID]string{replacement: "public", old: "private"} {
			r := ts.do(t, http.MethodGet, "/_matrix/client/v3/directory/list/room/"+string(roomID), "", nil)
			if wantOK(t, r); r.object(t)["visibility"] != want {
				t.Errorf("directory visibility of %s = %s, want %s", roomID, r.Body, want)
			}
		}
		// Bob follows the tombstone, and his tags follow him.
		mustJoin(t, bob, string(replacement))
		if tags, err := bob.GetTags(ctx, replacement); err != nil || len(tags.Tags) != 1 {
			t.Errorf("bob's tags in the new room = %+v, %v; want his favourite carried over", tags, err)
		}

		// To a version whose creators are privileged: alice is not in the new power levels' users.
		r = upgrade(alice, replacement, map[string]any{"new_version": "12"})
		wantOK(t, r)
		v12 := id.RoomID(r.object(t)["replacement_room"].(string))
		pl := stateOf(t, alice, v12, event.StatePowerLevels)
		if users, _ := pl["users"].(map[string]any); users[string(alice.UserID)] != nil {
			t.Errorf("v12 power levels list the creator: %v", pl["users"])
		}
	})
}
