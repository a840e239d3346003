package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
	"causeway/homeserver/storage/storagetest"
)

// TestUnknownRoom sends every kind of room request to a room that does not exist. Reads and
// writes answer 403 M_FORBIDDEN, as they do for an existing room the user is not in, so that
// a non-member cannot probe which room IDs exist (Synapse answers sends with "Unknown room" 403
// too); only a join names the room as not found, since the user asked to enter it.
func TestUnknownRoom(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		ts.register(t, "bob")
		const missing = id.RoomID("!nosuchroom:localhost")
		member := map[string]any{"user_id": "@bob:localhost"}
		tests := []struct {
			name    string
			method  string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"send", http.MethodPut, roomPath(missing, "/send/m.room.message/1"), map[string]any{"msgtype": "m.text", "body": "hi"}, 403, "M_FORBIDDEN"},
			{"set state", http.MethodPut, roomPath(missing, "/state/m.room.topic/"), map[string]any{"topic": "x"}, 403, "M_FORBIDDEN"},
			{"redact", http.MethodPut, roomPath(missing, "/redact/$e/1"), map[string]any{}, 403, "M_FORBIDDEN"},
			{"get state", http.MethodGet, roomPath(missing, "/state"), nil, 403, "M_FORBIDDEN"},
			{"get state event", http.MethodGet, roomPath(missing, "/state/m.room.create/"), nil, 403, "M_FORBIDDEN"},
			{"members", http.MethodGet, roomPath(missing, "/members"), nil, 403, "M_FORBIDDEN"},
			{"joined members", http.MethodGet, roomPath(missing, "/joined_members"), nil, 403, "M_FORBIDDEN"},
			{"messages", http.MethodGet, roomPath(missing, "/messages?dir=b"), nil, 403, "M_FORBIDDEN"},
			{"aliases", http.MethodGet, roomPath(missing, "/aliases"), nil, 403, "M_FORBIDDEN"},
			{"event", http.MethodGet, roomPath(missing, "/event/$nosuchevent"), nil, 404, "M_NOT_FOUND"},
			{"invite", http.MethodPost, roomPath(missing, "/invite"), member, 403, "M_FORBIDDEN"},
			{"kick", http.MethodPost, roomPath(missing, "/kick"), member, 403, "M_FORBIDDEN"},
			{"ban", http.MethodPost, roomPath(missing, "/ban"), member, 403, "M_FORBIDDEN"},
			{"unban", http.MethodPost, roomPath(missing, "/unban"), member, 403, "M_FORBIDDEN"},
			{"leave", http.MethodPost, roomPath(missing, "/leave"), map[string]any{}, 403, "M_FORBIDDEN"},
			{"forget", http.MethodPost, roomPath(missing, "/forget"), map[string]any{}, 404, "M_NOT_FOUND"},
			{"join by ID", http.MethodPost, roomPath(missing, "/join"), map[string]any{}, 404, "M_NOT_FOUND"},
			{"join by ID (join endpoint)", http.MethodPost, "/_matrix/client/v3/join/" + url.PathEscape(string(missing)), map[string]any{}, 404, "M_NOT_FOUND"},
			{"join by unknown alias", http.MethodPost, "/_matrix/client/v3/join/" + url.PathEscape("#nosuchalias:localhost"), map[string]any{}, 404, "M_NOT_FOUND"},
			{"join by neither ID nor alias", http.MethodPost, "/_matrix/client/v3/join/" + url.PathEscape("nosuchroom"), map[string]any{}, 400, "M_INVALID_PARAM"},
			{"malformed room ID", http.MethodPut, "/_matrix/client/v3/rooms/nosuchroom/send/m.room.message/1", map[string]any{}, 400, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, alice.AccessToken, tc.body), tc.status, tc.errcode)
			})
		}
		if got := joinedRooms(t, alice); len(got) != 0 {
			t.Errorf("joined rooms = %v, want none", got)
		}
	})
}

// TestForbiddenRoomActions checks that the auth rules' refusals reach the client as 403
// M_FORBIDDEN and change nothing.
func TestForbiddenRoomActions(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		eve := ts.register(t, "eve")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat", Name: "Town hall"})
		mustJoin(t, bob, string(roomID))
		mustJoin(t, carol, string(roomID))
		private := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})

		userBody := func(u *mautrix.Client) map[string]any { return map[string]any{"user_id": u.UserID, "reason": "test"} }
		tests := []struct {
			name   string
			as     *mautrix.Client
			method string
			path   string
			body   any
		}{
			{"non-member sends", eve, http.MethodPut, roomPath(roomID, "/send/m.room.message/1"), map[string]any{"msgtype": "m.text", "body": "let me in"}},
			{"non-member sets state", eve, http.MethodPut, roomPath(roomID, "/state/m.room.topic/"), map[string]any{"topic": "x"}},
			{"member without power sets the name", bob, http.MethodPut, roomPath(roomID, "/state/m.room.name/"), map[string]any{"name": "Bob's"}},
			{"member without power sets power levels", bob, http.MethodPut, roomPath(roomID, "/state/m.room.power_levels/"), map[string]any{"users": map[string]int{"@bob:localhost": 100}}},
			{"member sets another user's member event", bob, http.MethodPut, roomPath(roomID, "/state/m.room.member/@carol:localhost"), map[string]any{"membership": "leave"}},
			{"member without power kicks", bob, http.MethodPost, roomPath(roomID, "/kick"), userBody(carol)},
			{"member without power bans", bob, http.MethodPost, roomPath(roomID, "/ban"), userBody(carol)},
			{"member without power invites to a public room", bob, http.MethodPost, roomPath(roomID, "/invite"), userBody(eve)},
			{"invite of a joined user", alice, http.MethodPost, roomPath(roomID, "/invite"), userBody(bob)},
			{"kick of a non-member", alice, http.MethodPost, roomPath(roomID, "/kick"), userBody(eve)},
			{"non-member invites", eve, http.MethodPost, roomPath(roomID, "/invite"), userBody(eve)},
			{"non-member leaves", eve, http.MethodPost, roomPath(roomID, "/leave"), map[string]any{}},
			{"join of an invite-only room", eve, http.MethodPost, roomPath(private, "/join"), map[string]any{}},
			{"non-member sends to a private room", bob, http.MethodPut, roomPath(private, "/send/m.room.message/1"), map[string]any{"msgtype": "m.text", "body": "hi"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, tc.as.AccessToken, tc.body), 403, "M_FORBIDDEN")
			})
		}
		t.Run("unban of a user who is not banned", func(t *testing.T) {
			// The spec's own example of M_BAD_STATE ("Common error codes").
			wantError(t, ts.do(t, http.MethodPost, roomPath(roomID, "/unban"), alice.AccessToken, userBody(bob)), 400, "M_BAD_STATE")
		})

		// Nothing changed: the same members, no messages, the original name.
		members, err := alice.JoinedMembers(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		var joined []id.UserID
		for u := range members.Joined {
			joined = append(joined, u)
		}
		slices.Sort(joined)
		if want := []id.UserID{alice.UserID, bob.UserID, carol.UserID}; !slices.Equal(joined, want) {
			t.Errorf("joined members = %v, want %v", joined, want)
		}
		if got := ts.allBodies(t, alice, roomID); len(got) != 0 {
			t.Errorf("messages = %q, want none", got)
		}
		var name event.RoomNameEventContent
		if err := alice.StateEvent(ctx, roomID, event.StateRoomName, "", &name); err != nil || name.Name != "Town hall" {
			t.Errorf("room name = %q, %v; want Town hall", name.Name, err)
		}
		if got := joinedRooms(t, eve); len(got) != 0 {
			t.Errorf("eve's joined rooms = %v, want none", got)
		}
	})
}

// TestCreateRoomErrors covers createRoom's refusals (data/api/client-server/create_room.yaml)
// and checks that a refused request leaves no room behind.
func TestCreateRoomErrors(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{RoomAliasName: "taken"})
		mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{RoomAliasName: "taken12", RoomVersion: id.RoomV12})

		tests := []struct {
			name    string
			body    map[string]any
			errcode string
		}{
			{"alias taken", map[string]any{"room_alias_name": "taken", "name": "Copycat"}, "M_ROOM_IN_USE"},
			{"alias taken, room v12", map[string]any{"room_alias_name": "taken12", "room_version": "12"}, "M_ROOM_IN_USE"},
			{"alias taken, with invites", map[string]any{"room_alias_name": "taken", "invite": []string{"@bob:localhost"}}, "M_ROOM_IN_USE"},
			{"alias localpart with a colon", map[string]any{"room_alias_name": "a:b"}, "M_INVALID_PARAM"},
			{"alias localpart with a space", map[string]any{"room_alias_name": "a b"}, "M_INVALID_PARAM"},
			{"unknown room version", map[string]any{"room_version": "99"}, "M_UNSUPPORTED_ROOM_VERSION"},
			{"custom room version", map[string]any{"room_version": "org.example.custom"}, "M_UNSUPPORTED_ROOM_VERSION"},
			{"unknown preset", map[string]any{"preset": "party"}, "M_INVALID_PARAM"},
			{"preset of the wrong type", map[string]any{"preset": 5}, "M_BAD_JSON"},
			{"unknown visibility", map[string]any{"visibility": "secret"}, "M_INVALID_PARAM"},
			{"invalid invitee", map[string]any{"invite": []string{"bob"}}, "M_INVALID_PARAM"},
			{"creator's power below the room name's", map[string]any{
				"name": "Unnameable", "power_level_content_override": map[string]any{"users": map[string]int{"@bob:localhost": 100}},
			}, "M_INVALID_ROOM_STATE"},
			{"creator's power below state_default", map[string]any{
				"power_level_content_override": map[string]any{"users": map[string]int{"@alice:localhost": 10}},
			}, "M_INVALID_ROOM_STATE"},
			{"initial state the creator may not send", map[string]any{
				"power_level_content_override": map[string]any{"events": map[string]int{"m.room.topic": 1000}},
				"initial_state":                []map[string]any{{"type": "m.room.topic", "content": map[string]any{"topic": "t"}}},
			}, "M_INVALID_ROOM_STATE"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := joinedRooms(t, alice)
				r := ts.do(t, http.MethodPost, "/_matrix/client/v3/createRoom", alice.AccessToken, tc.body)
				wantError(t, r, 400, tc.errcode)
				if after := joinedRooms(t, alice); len(after) != len(before) {
					t.Errorf("joined rooms went from %d to %d: the refused request left a room behind", len(before), len(after))
				}
			})
		}
		// No invite to the rooms that were not created reached bob.
		resp := ts.sync(t, bob, url.Values{})
		if len(resp.Rooms.Invite) != 0 {
			t.Errorf("bob has invites %v from refused createRoom requests", resp.Rooms.Invite)
		}
		// The aliases still point where they did.
		for _, alias := range []id.RoomAlias{"#taken:localhost", "#taken12:localhost"} {
			res, err := alice.ResolveAlias(context.Background(), alias)
			if err != nil || !slices.Contains(joinedRooms(t, alice), res.RoomID) {
				t.Errorf("%s resolves to %v, %v", alias, res, err)
			}
		}
	})
}

// TestCreateRoomVersions creates a room of every version this server creates, then sends,
// joins and syncs in it.
func TestCreateRoomVersions(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		for _, version := range rooms.CreatableVersions {
			t.Run("v"+string(version), func(t *testing.T) {
				roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{
					RoomVersion: version, Preset: "public_chat", Name: "Room v" + string(version),
					RoomAliasName: "v" + string(version), Topic: "about v" + string(version),
				})
				since := ts.sync(t, bob, url.Values{}).NextBatch
				mustJoin(t, bob, "#v"+string(version)+":localhost")
				mustSend(t, alice, roomID, "hello "+string(version))
				mustSend(t, bob, roomID, "hi "+string(version))
				if _, err := alice.SendStateEvent(ctx, roomID, event.StateTopic, "", map[string]any{"topic": "changed"}); err != nil {
					t.Fatalf("set topic: %v", err)
				}

				var create event.CreateEventContent
				if err := bob.StateEvent(ctx, roomID, event.StateCreate, "", &create); err != nil {
					t.Fatal(err)
				}
				if create.RoomVersion != version {
					t.Errorf("m.room.create room_version = %q, want %q", create.RoomVersion, version)
				}
				resp := ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"0"}})
				jr := resp.Rooms.Join[roomID]
				if jr == nil {
					t.Fatalf("bob's sync has no joined room %s: %+v", roomID, resp.Rooms)
				}
				if got, want := bodies(jr.Timeline.Events), []string{"hello " + string(version), "hi " + string(version)}; !slices.Equal(got, want) {
					t.Errorf("timeline bodies = %q, want %q", got, want)
				}
				if got := ts.allBodies(t, alice, roomID); len(got) != 2 {
					t.Errorf("alice pages through %q, want 2 messages", got)
				}
			})
		}
	})
}

// TestRoomState reads state through every form of the state endpoints (room_state.yaml).
func TestRoomState(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		eve := ts.register(t, "eve")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Secret"})
		for _, u := range []*mautrix.Client{bob, carol} {
			if _, err := alice.InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: u.UserID}); err != nil {
				t.Fatal(err)
			}
		}
		mustJoin(t, bob, string(roomID))
		// A state key holding a slash, and one holding a space and a percent sign.
		for key, value := range map[string]string{"a/b": "slash", "a": "plain", "50% off": "odd"} {
			r := ts.do(t, http.MethodPut, roomPath(roomID, "/state/org.example.thing/"+url.PathEscape(key)), alice.AccessToken, map[string]any{"value": value})
			wantOK(t, r)
		}

		stateGet := func(rest string) string { return roomPath(roomID, "/state/"+rest) }
		tests := []struct {
			name    string
			as      *mautrix.Client
			path    string
			status  int
			errcode string
			want    map[string]any // fields the content must have
		}{
			{"empty state key without slash", bob, stateGet("m.room.name"), 200, "", map[string]any{"name": "Secret"}},
			{"empty state key with slash", bob, stateGet("m.room.name/"), 200, "", map[string]any{"name": "Secret"}},
			{"state key with a slash", bob, stateGet("org.example.thing/a%2Fb"), 200, "", map[string]any{"value": "slash"}},
			{"state key that prefixes the slashed one", bob, stateGet("org.example.thing/a"), 200, "", map[string]any{"value": "plain"}},
			{"state key with space and percent", bob, stateGet("org.example.thing/" + url.PathEscape("50% off")), 200, "", map[string]any{"value": "odd"}},
			{"member event", bob, stateGet("m.room.member/" + url.PathEscape(alice.UserID.String())), 200, "", map[string]any{"membership": "join"}},
			{"invited member's event", bob, stateGet("m.room.member/" + url.PathEscape(carol.UserID.String())), 200, "", map[string]any{"membership": "invite"}},
			{"missing type", bob, stateGet("m.room.topic/"), 404, "M_NOT_FOUND", nil},
			{"missing state key", bob, stateGet("org.example.thing/nope"), 404, "M_NOT_FOUND", nil},
			{"empty key of a keyed type", bob, stateGet("org.example.thing/"), 404, "M_NOT_FOUND", nil},
			{"non-member", eve, stateGet("m.room.name/"), 403, "M_FORBIDDEN", nil},
			{"invited, not joined", carol, stateGet("m.room.name/"), 403, "M_FORBIDDEN", nil},
			{"non-member lists state", eve, roomPath(roomID, "/state"), 403, "M_FORBIDDEN", nil},
			{"non-member lists members", eve, roomPath(roomID, "/members"), 403, "M_FORBIDDEN", nil},
			{"non-member lists joined members", eve, roomPath(roomID, "/joined_members"), 403, "M_FORBIDDEN", nil},
			{"non-member pages messages", eve, roomPath(roomID, "/messages?dir=b"), 403, "M_FORBIDDEN", nil},
			{"non-member lists aliases", eve, roomPath(roomID, "/aliases"), 403, "M_FORBIDDEN", nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, http.MethodGet, tc.path, tc.as.AccessToken, nil)
				if tc.status != 200 {
					wantError(t, r, tc.status, tc.errcode)
					return
				}
				wantOK(t, r)
				got := r.object(t)
				for k, v := range tc.want {
					if got[k] != v {
						t.Errorf("content[%q] = %v, want %v (content %s)", k, got[k], v, r.Body)
					}
				}
			})
		}

		t.Run("format=event", func(t *testing.T) {
			r := ts.do(t, http.MethodGet, stateGet("org.example.thing/a%2Fb?format=event"), bob.AccessToken, nil)
			wantOK(t, r)
			var ev event.Event
			r.decode(t, &ev)
			if ev.GetStateKey() != "a/b" || ev.Type.Type != "org.example.thing" || ev.Sender != alice.UserID || ev.ID == "" {
				t.Errorf("event = %s", r.Body)
			}
		})
		t.Run("full state", func(t *testing.T) {
			state, err := bob.State(ctx, roomID)
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range []event.Type{event.StateCreate, event.StatePowerLevels, event.StateJoinRules, event.StateHistoryVisibility, event.StateRoomName} {
				if state[typ][""] == nil {
					t.Errorf("state has no %s", typ.Type)
				}
			}
			things := state[event.Type{Type: "org.example.thing", Class: event.StateEventType}]
			if len(things) != 3 || things["a/b"] == nil || things["50% off"] == nil {
				t.Errorf("org.example.thing state keys = %v", things)
			}
		})
		t.Run("members", func(t *testing.T) {
			tests := []struct {
				query string
				want  []id.UserID
			}{
				{"", []id.UserID{alice.UserID, bob.UserID, carol.UserID}},
				{"?membership=join", []id.UserID{alice.UserID, bob.UserID}},
				{"?membership=invite", []id.UserID{carol.UserID}},
				{"?not_membership=join", []id.UserID{carol.UserID}},
				{"?not_membership=invite", []id.UserID{alice.UserID, bob.UserID}},
				{"?membership=leave", nil},
			}
			for _, tc := range tests {
				r := ts.do(t, http.MethodGet, roomPath(roomID, "/members"+tc.query), bob.AccessToken, nil)
				wantOK(t, r)
				var resp mautrix.RespMembers
				r.decode(t, &resp)
				var got []id.UserID
				for _, ev := range resp.Chunk {
					if ev.Type != event.StateMember {
						t.Errorf("members%s holds a %s event", tc.query, ev.Type.Type)
					}
					got = append(got, id.UserID(ev.GetStateKey()))
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("members%s = %v, want %v", tc.query, got, tc.want)
				}
			}
			joined, err := bob.JoinedMembers(ctx, roomID)
			if err != nil {
				t.Fatal(err)
			}
			if len(joined.Joined) != 2 || joined.Joined[alice.UserID].DisplayName != "alice" {
				t.Errorf("joined_members = %+v", joined.Joined)
			}
		})
		t.Run("former member reads the state at their leave", func(t *testing.T) {
			if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.SendStateEvent(ctx, roomID, event.StateRoomName, "", map[string]any{"name": "Renamed"}); err != nil {
				t.Fatal(err)
			}
			var name event.RoomNameEventContent
			if err := bob.StateEvent(ctx, roomID, event.StateRoomName, "", &name); err != nil || name.Name != "Secret" {
				t.Errorf("bob, who left, reads the name %q, %v; want the name at his leave, Secret", name.Name, err)
			}
		})
	})
}

// TestMembershipModeration covers kick, ban, unban and forget (kicking.yaml, banning.yaml,
// leaving.yaml), each seen by the affected user.
func TestMembershipModeration(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		userBody := map[string]any{"user_id": bob.UserID, "reason": "spam"}
		membership := func() string {
			r := ts.do(t, http.MethodGet, roomPath(roomID, "/state/m.room.member/"+url.PathEscape(bob.UserID.String())), alice.AccessToken, nil)
			wantOK(t, r)
			m, _ := r.object(t)["membership"].(string)
			return m
		}

		t.Run("kick", func(t *testing.T) {
			since := ts.sync(t, bob, url.Values{}).NextBatch
			wantOK(t, ts.do(t, http.MethodPost, roomPath(roomID, "/kick"), alice.AccessToken, userBody))
			if m := membership(); m != "leave" {
				t.Errorf("membership after kick = %q, want leave", m)
			}
			resp := ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"0"}})
			lr := resp.Rooms.Leave[roomID]
			if lr == nil {
				t.Fatalf("bob's incremental sync has no leave section for %s: %+v", roomID, resp.Rooms)
			}
			kick := memberEvent(lr.Timeline.Events, bob.UserID)
			if kick == nil || kick.Sender != alice.UserID || kick.Content.Raw["membership"] != "leave" || kick.Content.Raw["reason"] != "spam" {
				t.Errorf("bob's leave timeline = %+v, want alice's kick with the reason", lr.Timeline.Events)
			}
			if _, ok := resp.Rooms.Join[roomID]; ok {
				t.Error("the room is still in bob's join section")
			}
			// A kicked user of a public room may come back.
			mustJoin(t, bob, string(roomID))
		})
		t.Run("ban", func(t *testing.T) {
			wantOK(t, ts.do(t, http.MethodPost, roomPath(roomID, "/ban"), alice.AccessToken, userBody))
			if m := membership(); m != "ban" {
				t.Errorf("membership after ban = %q, want ban", m)
			}
			wantError(t, ts.do(t, http.MethodPost, roomPath(roomID, "/join"), bob.AccessToken, map[string]any{}), 403, "M_FORBIDDEN")
			wantError(t, ts.do(t, http.MethodPost, roomPath(roomID, "/invite"), alice.AccessToken, map[string]any{"user_id": bob.UserID}), 403, "M_FORBIDDEN")
			wantError(t, ts.do(t, http.MethodPut, roomPath(roomID, "/send/m.room.message/banned"), bob.AccessToken, map[string]any{"body": "x"}), 403, "M_FORBIDDEN")
			if m := membership(); m != "ban" {
				t.Errorf("membership after the refused join = %q, want ban", m)
			}
		})
		t.Run("unban", func(t *testing.T) {
			wantError(t, ts.do(t, http.MethodPost, roomPath(roomID, "/unban"), bob.AccessToken, userBody), 403, "M_FORBIDDEN")
			wantOK(t, ts.do(t, http.MethodPost, roomPath(roomID, "/unban"), alice.AccessToken, map[string]any{"user_id": bob.UserID}))
			if m := membership(); m != "leave" {
				t.Errorf("membership after unban = %q, want leave", m)
			}
			mustJoin(t, bob, string(roomID))
			mustSend(t, bob, roomID, "back again")
		})
		t.Run("forget", func(t *testing.T) {
			wantError(t, ts.do(t, http.MethodPost, roomPath(roomID, "/forget"), bob.AccessToken, map[string]any{}), 400, "M_UNKNOWN")
			other := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
			mustJoin(t, bob, string(other))
			for _, r := range []id.RoomID{roomID, other} {
				if _, err := bob.LeaveRoom(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bob.ForgetRoom(ctx, roomID); err != nil {
				t.Fatalf("forget after leaving: %v", err)
			}
			resp := ts.sync(t, bob, url.Values{"filter": {`{"room":{"include_leave":true}}`}})
			if _, ok := resp.Rooms.Leave[roomID]; ok {
				t.Error("the forgotten room is in an initial sync with include_leave")
			}
			if _, ok := resp.Rooms.Leave[other]; !ok {
				t.Error("the left but not forgotten room is missing from an initial sync with include_leave")
			}
			// Forgetting does not stop a user from joining again.
			mustJoin(t, bob, string(roomID))
		})
	})
}

// TestRoomAliases covers the room directory's alias endpoints (directory.yaml).
func TestRoomAliases(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		private := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		mustJoin(t, bob, string(roomID))
		dir := func(alias string) string { return "/_matrix/client/v3/directory/room/" + url.PathEscape(alias) }

		steps := []struct {
			name    string
			as      *mautrix.Client
			method  string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"alice maps an alias", alice, http.MethodPut, dir("#hall:localhost"), map[string]any{"room_id": roomID}, 200, ""},
			{"bob maps another", bob, http.MethodPut, dir("#bobs:localhost"), map[string]any{"room_id": roomID}, 200, ""},
			{"duplicate alias", bob, http.MethodPut, dir("#hall:localhost"), map[string]any{"room_id": roomID}, 409, "M_UNKNOWN"},
			{"duplicate alias to another room", alice, http.MethodPut, dir("#hall:localhost"), map[string]any{"room_id": private}, 409, "M_UNKNOWN"},
			{"alias without a server", alice, http.MethodPut, dir("#nocolon"), map[string]any{"room_id": roomID}, 400, "M_INVALID_PARAM"},
			{"alias of another server", alice, http.MethodPut, dir("#x:elsewhere.example"), map[string]any{"room_id": roomID}, 400, "M_INVALID_PARAM"},
			{"not an alias", alice, http.MethodPut, dir("hall:localhost"), map[string]any{"room_id": roomID}, 400, "M_INVALID_PARAM"},
			{"room_id missing", alice, http.MethodPut, dir("#x:localhost"), map[string]any{}, 400, "M_INVALID_PARAM"},
			{"alias for a room the user is not in", carol, http.MethodPut, dir("#sneaky:localhost"), map[string]any{"room_id": private}, 403, "M_FORBIDDEN"},
			{"resolve an unknown alias", carol, http.MethodGet, dir("#nope:localhost"), nil, 404, "M_NOT_FOUND"},
			{"resolve without a token", nil, http.MethodGet, dir("#hall:localhost"), nil, 200, ""},
			{"delete by a non-creator without power", bob, http.MethodDelete, dir("#hall:localhost"), nil, 403, "M_FORBIDDEN"},
			{"delete by a non-member", carol, http.MethodDelete, dir("#bobs:localhost"), nil, 403, "M_FORBIDDEN"},
			{"delete an unknown alias", alice, http.MethodDelete, dir("#nope:localhost"), nil, 404, "M_NOT_FOUND"},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				token := ""
				if st.as != nil {
					token = st.as.AccessToken
				}
				r := ts.do(t, st.method, st.path, token, st.body)
				if st.status == 200 {
					wantOK(t, r)
					return
				}
				wantError(t, r, st.status, st.errcode)
			})
		}

		res, err := carol.ResolveAlias(ctx, "#hall:localhost")
		if err != nil || res.RoomID != roomID || !slices.Equal(res.Servers, []string{"localhost"}) {
			t.Errorf("resolve #hall:localhost = %+v, %v", res, err)
		}
		aliases, err := bob.GetAliases(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(aliases.Aliases)
		if want := []id.RoomAlias{"#bobs:localhost", "#hall:localhost"}; !slices.Equal(aliases.Aliases, want) {
			t.Errorf("aliases of the room = %v, want %v", aliases.Aliases, want)
		}
		if _, err := carol.JoinRoom(ctx, "#hall:localhost", nil); err != nil {
			t.Fatalf("join by alias: %v", err)
		}
		if !slices.Contains(joinedRooms(t, carol), roomID) {
			t.Error("joining by alias did not join the room")
		}

		t.Run("canonical alias", func(t *testing.T) {
			wantOK(t, ts.do(t, http.MethodPut, dir("#elsewhere:localhost"), alice.AccessToken, map[string]any{"room_id": private}))
			canonical := roomPath(roomID, "/state/m.room.canonical_alias/")
			tests := []struct {
				name    string
				content map[string]any
				status  int
				errcode string
			}{
				{"alias of the room", map[string]any{"alias": "#hall:localhost"}, 200, ""},
				{"alias and alt_aliases of the room", map[string]any{"alias": "#hall:localhost", "alt_aliases": []string{"#bobs:localhost"}}, 200, ""},
				{"unknown alias", map[string]any{"alias": "#nope:localhost"}, 400, "M_BAD_ALIAS"},
				{"unknown alt alias", map[string]any{"alias": "#hall:localhost", "alt_aliases": []string{"#nope:localhost"}}, 400, "M_BAD_ALIAS"},
				{"alias of another room", map[string]any{"alias": "#elsewhere:localhost"}, 400, "M_BAD_ALIAS"},
				{"alias of another server", map[string]any{"alias": "#hall:elsewhere.example"}, 400, "M_BAD_ALIAS"},
				{"not an alias", map[string]any{"alias": "hall"}, 400, "M_INVALID_PARAM"},
				{"alias of the wrong type", map[string]any{"alias": 5}, 400, "M_INVALID_PARAM"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r := ts.do(t, http.MethodPut, canonical, alice.AccessToken, tc.content)
					if tc.status == 200 {
						wantOK(t, r)
						return
					}
					wantError(t, r, tc.status, tc.errcode)
				})
			}
			var got event.CanonicalAliasEventContent
			if err := bob.StateEvent(ctx, roomID, event.StateCanonicalAlias, "", &got); err != nil || got.Alias != "#hall:localhost" || len(got.AltAliases) != 1 {
				t.Errorf("canonical alias after the refusals = %+v, %v", got, err)
			}
		})

		// The room's admin may delete an alias someone else made; its creator may delete their own.
		if _, err := alice.DeleteAlias(ctx, "#bobs:localhost"); err != nil {
			t.Errorf("room admin deletes bob's alias: %v", err)
		}
		if _, err := alice.DeleteAlias(ctx, "#hall:localhost"); err != nil {
			t.Errorf("creator deletes own alias: %v", err)
		}
		for _, alias := range []string{"#hall:localhost", "#bobs:localhost"} {
			wantError(t, ts.do(t, http.MethodGet, dir(alias), "", nil), 404, "M_NOT_FOUND")
		}
		aliases, err = bob.GetAliases(ctx, roomID)
		if err != nil || len(aliases.Aliases) != 0 {
			t.Errorf("aliases after deleting them = %v, %v", aliases, err)
		}
		// Aliases deleted since may stay in the canonical alias event or leave it; no new one may come.
		canonical := roomPath(roomID, "/state/m.room.canonical_alias/")
		wantOK(t, ts.do(t, http.MethodPut, canonical, alice.AccessToken, map[string]any{"alias": "#hall:localhost", "alt_aliases": []string{}}))
		wantOK(t, ts.do(t, http.MethodPut, canonical, alice.AccessToken, map[string]any{}))
		wantError(t, ts.do(t, http.MethodPut, canonical, alice.AccessToken, map[string]any{"alias": "#hall:localhost"}), 400, "M_BAD_ALIAS")
		// A deleted alias may be mapped again.
		wantOK(t, ts.do(t, http.MethodPut, dir("#hall:localhost"), bob.AccessToken, map[string]any{"room_id": roomID}))
	})
}

// TestTransactionIDs checks that a retransmitted send returns the first event and stores nothing
// more, and that the scope of a transaction ID is one device and one endpoint path
// ("Transaction identifiers" in content/client-server-api/_index.md).
func TestTransactionIDs(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		phone := ts.login(t, alice.UserID, password)
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{})
		other := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{})
		send := func(cli *mautrix.Client, room id.RoomID, evType, txn, body string) id.EventID {
			t.Helper()
			r := ts.do(t, http.MethodPut, roomPath(room, "/send/"+evType+"/"+txn), cli.AccessToken, map[string]any{"msgtype": "m.text", "body": body})
			wantOK(t, r)
			evID, _ := r.object(t)["event_id"].(string)
			return id.EventID(evID)
		}
		since := ts.sync(t, alice, url.Values{}).NextBatch

		first := send(alice, roomID, "m.room.message", "txn1", "once")
		if again := send(alice, roomID, "m.room.message", "txn1", "once"); again != first {
			t.Errorf("retransmission returned %s, want the first event %s", again, first)
		}
		if again := send(alice, roomID, "m.room.message", "txn1", "different body"); again != first {
			t.Errorf("retransmission with another body returned %s, want the first event %s", again, first)
		}
		fromPhone := send(phone, roomID, "m.room.message", "txn1", "from the phone")
		if fromPhone == first {
			t.Error("the same transaction ID from another device returned the first device's event")
		}
		inOtherRoom := send(alice, other, "m.room.message", "txn1", "other room")
		if inOtherRoom == first {
			t.Error("the same transaction ID sent to another room returned the first room's event")
		}
		otherType := send(alice, roomID, "org.example.note", "txn1", "other type")
		if otherType == first {
			t.Error("the same transaction ID sent with another event type returned the first event")
		}
		if got, want := ts.allBodies(t, alice, roomID), []string{"once", "from the phone"}; !slices.Equal(got, want) {
			t.Errorf("room messages = %q, want %q", got, want)
		}
		if got, want := ts.allBodies(t, alice, other), []string{"other room"}; !slices.Equal(got, want) {
			t.Errorf("other room messages = %q, want %q", got, want)
		}

		// The sending device sees its transaction ID on its own event; the other device does not.
		for _, tc := range []struct {
			cli  *mautrix.Client
			want map[id.EventID]string
		}{
			{alice, map[id.EventID]string{first: "txn1", fromPhone: "", otherType: "txn1"}},
			{phone, map[id.EventID]string{first: "", fromPhone: "txn1", otherType: ""}},
		} {
			resp := ts.sync(t, tc.cli, url.Values{"since": {since}, "timeout": {"0"}})
			jr := resp.Rooms.Join[roomID]
			if jr == nil {
				t.Fatalf("no joined room in the sync of device %s", tc.cli.DeviceID)
			}
			seen := map[id.EventID]string{}
			for _, ev := range jr.Timeline.Events {
				seen[ev.ID] = ev.Unsigned.TransactionID
			}
			for evID, want := range tc.want {
				got, ok := seen[evID]
				if !ok {
					t.Errorf("device %s: event %s not in the timeline", tc.cli.DeviceID, evID)
				} else if got != want {
					t.Errorf("device %s: event %s has transaction_id %q, want %q", tc.cli.DeviceID, evID, got, want)
				}
			}
		}
	})
}

// TestRedactionTransactionID checks that a redaction is idempotent under its transaction ID and
// that the sender sees the transaction ID it chose.
func TestRedactionTransactionID(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{})
		target := mustSend(t, alice, roomID, "oops")
		since := ts.sync(t, alice, url.Values{}).NextBatch
		path := roomPath(roomID, "/redact/"+url.PathEscape(string(target))+"/r1")
		r1 := ts.do(t, http.MethodPut, path, alice.AccessToken, map[string]any{"reason": "typo"})
		wantOK(t, r1)
		r2 := ts.do(t, http.MethodPut, path, alice.AccessToken, map[string]any{"reason": "typo"})
		wantOK(t, r2)
		if a, b := r1.object(t)["event_id"], r2.object(t)["event_id"]; a != b {
			t.Errorf("retransmitted redaction returned %v, want %v", b, a)
		}
		resp := ts.sync(t, alice, url.Values{"since": {since}, "timeout": {"0"}})
		var redactions []*event.Event
		for _, ev := range resp.Rooms.Join[roomID].Timeline.Events {
			if ev.Type == event.EventRedaction {
				redactions = append(redactions, ev)
			}
		}
		if len(redactions) != 1 {
			t.Fatalf("%d redaction events, want 1", len(redactions))
		}
		if got := redactions[0].Unsigned.TransactionID; got != "r1" {
			t.Errorf("redaction's unsigned.transaction_id = %q, want the client's r1", got)
		}
	})
}

// TestModerationLimits checks that moderators act only below their own power level, and the
// refusals of malformed membership and redaction requests.
func TestModerationLimits(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		mod := ts.register(t, "mod")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, mod, string(roomID))
		mustJoin(t, carol, string(roomID))
		wantOK(t, ts.do(t, http.MethodPut, roomPath(roomID, "/state/m.room.power_levels/"), alice.AccessToken, map[string]any{
			"users": map[string]int{alice.UserID.String(): 100, mod.UserID.String(): 50}, "ban": 50, "kick": 50, "redact": 50,
			"state_default": 50, "events_default": 0, "invite": 0,
		}))
		alicesMessage := mustSend(t, alice, roomID, "from alice")
		carolsMessage := mustSend(t, carol, roomID, "from carol")
		user := func(u *mautrix.Client) map[string]any { return map[string]any{"user_id": u.UserID} }

		tests := []struct {
			name    string
			as      *mautrix.Client
			method  string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"moderator kicks the admin", mod, http.MethodPost, roomPath(roomID, "/kick"), user(alice), 403, "M_FORBIDDEN"},
			{"moderator bans the admin", mod, http.MethodPost, roomPath(roomID, "/ban"), user(alice), 403, "M_FORBIDDEN"},
			{"moderator raises themself", mod, http.MethodPut, roomPath(roomID, "/state/m.room.power_levels/"), map[string]any{
				"users": map[string]int{alice.UserID.String(): 100, mod.UserID.String(): 100}}, 403, "M_FORBIDDEN"},
			{"moderator redacts a member's message", mod, http.MethodPut, roomPath(roomID, "/redact/"+url.PathEscape(string(carolsMessage))+"/r1"), map[string]any{}, 200, ""},
			{"member redacts another's message", carol, http.MethodPut, roomPath(roomID, "/redact/"+url.PathEscape(string(alicesMessage))+"/r2"), map[string]any{}, 403, "M_FORBIDDEN"},
			{"redaction of an unknown event", alice, http.MethodPut, roomPath(roomID, "/redact/$nosuchevent/r3"), map[string]any{}, 404, "M_NOT_FOUND"},
			{"redaction with a malformed event ID", alice, http.MethodPut, roomPath(roomID, "/redact/nosuchevent/r4"), map[string]any{}, 400, "M_INVALID_PARAM"},
			{"kick without user_id", alice, http.MethodPost, roomPath(roomID, "/kick"), map[string]any{"reason": "x"}, 400, "M_MISSING_PARAM"},
			{"ban of an invalid user ID", alice, http.MethodPost, roomPath(roomID, "/ban"), map[string]any{"user_id": "carol"}, 400, "M_INVALID_PARAM"},
			{"invite without a body", alice, http.MethodPost, roomPath(roomID, "/invite"), nil, 400, "M_NOT_JSON"},
			{"invite of a user of another server", alice, http.MethodPost, roomPath(roomID, "/invite"), map[string]any{"user_id": "@x:elsewhere.example"}, 403, "M_FORBIDDEN"},
			{"moderator kicks a member", mod, http.MethodPost, roomPath(roomID, "/kick"), user(carol), 200, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, tc.method, tc.path, tc.as.AccessToken, tc.body)
				if tc.status == 200 {
					wantOK(t, r)
					return
				}
				wantError(t, r, tc.status, tc.errcode)
			})
		}
		members, err := alice.JoinedMembers(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		_, aliceIn := members.Joined[alice.UserID]
		_, modIn := members.Joined[mod.UserID]
		if len(members.Joined) != 2 || !aliceIn || !modIn {
			t.Errorf("joined members = %+v; want alice and mod", members.Joined)
		}
		ev, err := alice.GetEvent(ctx, roomID, alicesMessage)
		if err != nil || ev.Content.Raw["body"] != "from alice" {
			t.Errorf("alice's message after the refused redaction = %+v, %v", ev, err)
		}
	})
}
