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

// memberOf returns the content of user's member event in a room, as cli reads it.
func memberOf(t *testing.T, cli *mautrix.Client, roomID id.RoomID, user id.UserID) map[string]any {
	t.Helper()
	var content map[string]any
	if err := cli.StateEvent(context.Background(), roomID, event.StateMember, string(user), &content); err != nil {
		t.Fatalf("member event of %s: %v", user, err)
	}
	return content
}

func TestKnockAndAccept(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", RoomAliasName: "club",
			InitialState: []*event.Event{{Type: event.StateJoinRules, StateKey: new(string), Content: event.Content{Raw: map[string]any{"join_rule": "knock"}}}}})

		resp, err := bob.KnockRoom(ctx, "#club:localhost", &mautrix.ReqKnockRoom{Reason: "let me in"})
		if err != nil || resp.RoomID != roomID {
			t.Fatalf("bob knocks: %+v, %v", resp, err)
		}
		if m := memberOf(t, alice, roomID, bob.UserID); m["membership"] != "knock" || m["reason"] != "let me in" || m["displayname"] != "bob" {
			t.Errorf("bob's member event = %v, want a knock with his reason and name", m)
		}
		knocks := ts.sync(t, bob, url.Values{}).Rooms.Knock[roomID]
		if knocks == nil || len(knocks.State.Events) == 0 {
			t.Fatalf("bob's sync has no knock_state for the room")
		}
		wantError(t, ts.do(t, http.MethodPut, roomPath(roomID, "/send/m.room.message/t1"), bob.AccessToken, map[string]any{"msgtype": "m.text", "body": "hi"}), http.StatusForbidden, "M_FORBIDDEN")

		// Alice lets him in: an invite, which he accepts.
		if _, err := alice.InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
			t.Fatal(err)
		}
		mustJoin(t, bob, string(roomID))
		if m := memberOf(t, alice, roomID, bob.UserID); m["membership"] != "join" {
			t.Errorf("after the invite bob is %v", m["membership"])
		}

		public := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		knock := func(roomID id.RoomID) apiResponse {
			return ts.do(t, http.MethodPost, "/_matrix/client/v3/knock/"+url.PathEscape(string(roomID)), bob.AccessToken, map[string]any{})
		}
		wantError(t, knock(public), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, knock(roomID), http.StatusForbidden, "M_FORBIDDEN") // already joined
		wantError(t, knock("!unknown:localhost"), http.StatusNotFound, "M_NOT_FOUND")
	})
}

func TestRestrictedJoin(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		space := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat", CreationContent: map[string]any{"type": "m.space"}})
		mustJoin(t, bob, string(space))
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat",
			InitialState: []*event.Event{{Type: event.StateJoinRules, StateKey: new(string), Content: event.Content{Raw: map[string]any{
				"join_rule": "restricted", "allow": []map[string]any{{"type": "m.room_membership", "room_id": space}}}}}}})

		wantError(t, ts.do(t, http.MethodPost, roomPath(roomID, "/join"), carol.AccessToken, map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		mustJoin(t, bob, string(roomID))
		if m := memberOf(t, alice, roomID, bob.UserID); m["membership"] != "join" || m["join_authorised_via_users_server"] != string(alice.UserID) {
			t.Errorf("bob's join = %v, want it authorised by alice", m)
		}
	})
}
