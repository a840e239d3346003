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

	"causeway/homeserver/storage/storagetest"
)

// adminPath returns the path of GET/PUT /_matrix/client/v1/admin/{what}/{userId}.
func adminPath(what string, userID id.UserID) string {
	return "/_matrix/client/v1/admin/" + what + "/" + url.PathEscape(string(userID))
}

// passwordLogin sends POST /login with a password for userID.
func (ts *testServer) passwordLogin(t *testing.T, userID id.UserID) apiResponse {
	t.Helper()
	return ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": string(userID)},
		"password":   password,
	})
}

// wantLocked fails the test unless r is the spec's answer to a locked account: 401
// M_USER_LOCKED with soft_logout true.
func wantLocked(t *testing.T, r apiResponse) {
	t.Helper()
	wantError(t, r, http.StatusUnauthorized, "M_USER_LOCKED")
	if soft, _ := r.object(t)["soft_logout"].(bool); !soft {
		t.Errorf("M_USER_LOCKED without soft_logout: true: %s", r.Body)
	}
}

// wantFlag fails the test unless r is 200 with the body {field: want}.
func wantFlag(t *testing.T, r apiResponse, field string, want bool) {
	t.Helper()
	wantOK(t, r)
	if got, ok := r.object(t)[field].(bool); !ok || got != want {
		t.Errorf("body %s, want {%q: %t}", r.Body, field, want)
	}
}

// sortedRooms returns the room IDs sorted, for comparing sets.
func sortedRooms(rooms []id.RoomID) []id.RoomID {
	out := slices.Clone(rooms)
	slices.Sort(out)
	return out
}

// TestAccountLock drives account locking ("Account locking" in
// content/client-server-api/_index.md) and GET/PUT /_matrix/client/v1/admin/lock/{userId}.
func TestAccountLock(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		root := ts.registerAdmin(t, "root")
		other := ts.registerAdmin(t, "other")
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		bob2 := ts.login(t, bob.UserID, password)
		lock := func(token string, userID id.UserID, body any) apiResponse {
			return ts.do(t, http.MethodPut, adminPath("lock", userID), token, body)
		}

		t.Run("admins only, local users only", func(t *testing.T) {
			wantFlag(t, ts.do(t, http.MethodGet, adminPath("lock", bob.UserID), root.AccessToken, nil), "locked", false)
			wantError(t, lock(alice.AccessToken, bob.UserID, map[string]bool{"locked": true}), http.StatusForbidden, "M_FORBIDDEN")
			wantError(t, ts.do(t, http.MethodGet, adminPath("lock", bob.UserID), alice.AccessToken, nil), http.StatusForbidden, "M_FORBIDDEN")
			// Authorisation comes before the lookup: a non-admin learns nothing of who exists.
			wantError(t, lock(alice.AccessToken, "@nobody:localhost", map[string]bool{"locked": true}), http.StatusForbidden, "M_FORBIDDEN")
			wantError(t, lock(root.AccessToken, "@nobody:localhost", map[string]bool{"locked": true}), http.StatusNotFound, "M_NOT_FOUND")
			wantError(t, ts.do(t, http.MethodGet, adminPath("lock", "@nobody:localhost"), root.AccessToken, nil), http.StatusNotFound, "M_NOT_FOUND")
			wantError(t, lock(root.AccessToken, "@bob:elsewhere.example", map[string]bool{"locked": true}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantError(t, lock(root.AccessToken, root.UserID, map[string]bool{"locked": true}), http.StatusForbidden, "M_FORBIDDEN")
			wantError(t, lock(root.AccessToken, other.UserID, map[string]bool{"locked": true}), http.StatusForbidden, "M_FORBIDDEN")
		})

		t.Run("bad bodies", func(t *testing.T) {
			wantError(t, lock(root.AccessToken, bob.UserID, map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
			wantError(t, lock(root.AccessToken, bob.UserID, map[string]any{"locked": "yes"}), http.StatusBadRequest, "M_BAD_JSON")
			wantError(t, lock(root.AccessToken, bob.UserID, rawBody("{")), http.StatusBadRequest, "M_NOT_JSON")
			wantFlag(t, ts.do(t, http.MethodGet, adminPath("lock", bob.UserID), root.AccessToken, nil), "locked", false)
		})

		t.Run("capability", func(t *testing.T) {
			caps := func(cli *mautrix.Client) map[string]any {
				r := ts.do(t, http.MethodGet, "/_matrix/client/v3/capabilities", cli.AccessToken, nil)
				wantOK(t, r)
				return r.object(t)["capabilities"].(map[string]any)
			}
			if got, ok := caps(root)["m.account_moderation"].(map[string]any); !ok || got["lock"] != true || got["suspend"] != true {
				t.Errorf("admin's m.account_moderation = %v, want lock and suspend", got)
			}
			if got, ok := caps(alice)["m.account_moderation"]; ok {
				t.Errorf("non-admin's m.account_moderation = %v, want it omitted", got)
			}
		})

		wantFlag(t, lock(root.AccessToken, bob.UserID, map[string]bool{"locked": true}), "locked", true)
		wantFlag(t, ts.do(t, http.MethodGet, adminPath("lock", bob.UserID), root.AccessToken, nil), "locked", true)

		t.Run("locked account is refused everywhere but logout", func(t *testing.T) {
			wantLocked(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", bob.AccessToken, nil))
			wantLocked(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?timeout=0", bob.AccessToken, nil))
			wantLocked(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/joined_rooms", bob.AccessToken, nil))
			wantLocked(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/createRoom", bob.AccessToken, map[string]any{}))
			wantLocked(t, ts.do(t, http.MethodGet, "/_matrix/client/v1/media/config", bob.AccessToken, nil))
			wantLocked(t, ts.do(t, http.MethodPost, "/_matrix/media/v3/upload", bob.AccessToken, rawBody("data")))
			wantLocked(t, ts.passwordLogin(t, bob.UserID))
			// Others are not affected.
			wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", alice.AccessToken, nil))

			wantOK(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/logout", bob2.AccessToken, map[string]any{}))
			wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", bob2.AccessToken, nil), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		})

		wantFlag(t, lock(root.AccessToken, bob.UserID, map[string]bool{"locked": false}), "locked", false)

		t.Run("unlocking restores the session and login", func(t *testing.T) {
			r := ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", bob.AccessToken, nil)
			wantOK(t, r)
			if got := r.object(t)["user_id"]; got != bob.UserID.String() {
				t.Errorf("whoami user_id = %v, want %s", got, bob.UserID)
			}
			wantOK(t, ts.passwordLogin(t, bob.UserID))
			mustCreateRoom(t, bob, &mautrix.ReqCreateRoom{})
		})
	})
}

// TestAccountSuspension drives account suspension ("Account suspension" in
// content/client-server-api/_index.md) and GET/PUT /_matrix/client/v1/admin/suspend/{userId}.
func TestAccountSuspension(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		root := ts.registerAdmin(t, "root")
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		suspend := func(token string, userID id.UserID, body any) apiResponse {
			return ts.do(t, http.MethodPut, adminPath("suspend", userID), token, body)
		}

		shared := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		other := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		leaveLater := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(shared))
		mustJoin(t, bob, string(leaveLater))
		bobsOwn := mustSend(t, bob, shared, "bob before")
		alicesOwn := mustSend(t, alice, shared, "alice before")
		invited := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Invite: []id.UserID{bob.UserID}})
		invitedToo := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Invite: []id.UserID{bob.UserID}})

		t.Run("admins only", func(t *testing.T) {
			wantFlag(t, ts.do(t, http.MethodGet, adminPath("suspend", bob.UserID), root.AccessToken, nil), "suspended", false)
			wantError(t, suspend(alice.AccessToken, bob.UserID, map[string]bool{"suspended": true}), http.StatusForbidden, "M_FORBIDDEN")
			wantError(t, suspend(root.AccessToken, "@nobody:localhost", map[string]bool{"suspended": true}), http.StatusNotFound, "M_NOT_FOUND")
			wantError(t, suspend(root.AccessToken, root.UserID, map[string]bool{"suspended": true}), http.StatusForbidden, "M_FORBIDDEN")
			wantError(t, suspend(root.AccessToken, bob.UserID, map[string]bool{}), http.StatusBadRequest, "M_MISSING_PARAM")
		})

		wantFlag(t, suspend(root.AccessToken, bob.UserID, map[string]bool{"suspended": true}), "suspended", true)
		wantFlag(t, ts.do(t, http.MethodGet, adminPath("suspend", bob.UserID), root.AccessToken, nil), "suspended", true)
		mustSend(t, alice, shared, "alice during")

		t.Run("refused actions store nothing", func(t *testing.T) {
			const code, status = "M_USER_SUSPENDED", http.StatusForbidden
			_, err := bob.SendText(ctx, shared, "bob during")
			wantRespError(t, err, status, code)
			_, err = bob.SendStateEvent(ctx, shared, event.StateTopic, "", map[string]string{"topic": "bob's topic"})
			wantRespError(t, err, status, code)
			_, err = bob.JoinRoom(ctx, string(other), nil)
			wantRespError(t, err, status, code)
			_, err = bob.JoinRoomByID(ctx, invited)
			wantRespError(t, err, status, code)
			_, err = bob.KnockRoom(ctx, string(other), nil)
			wantRespError(t, err, status, code)
			_, err = bob.InviteUser(ctx, shared, &mautrix.ReqInviteUser{UserID: carol.UserID})
			wantRespError(t, err, status, code)
			_, err = bob.SendStateEvent(ctx, shared, event.StateMember, string(carol.UserID), map[string]string{"membership": "invite"})
			wantRespError(t, err, status, code)
			wantRespError(t, bob.SetDisplayName(ctx, "Suspended Bob"), status, code)
			_, err = bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "bob's room"})
			wantRespError(t, err, status, code)
			_, err = bob.RedactEvent(ctx, shared, alicesOwn)
			wantRespError(t, err, status, code)

			// Nothing of it reached the rooms or the profile.
			if got := ts.allBodies(t, alice, shared); !slices.Equal(got, []string{"bob before", "alice before", "alice during"}) {
				t.Errorf("messages in the shared room = %q", got)
			}
			topic := ts.do(t, http.MethodGet, roomPath(shared, "/state/m.room.topic"), alice.AccessToken, nil)
			wantError(t, topic, http.StatusNotFound, "M_NOT_FOUND")
			members, err := alice.JoinedMembers(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			if _, joined := members.Joined[bob.UserID]; joined {
				t.Error("bob joined the other room")
			}
			if _, invited := ts.sync(t, carol, url.Values{}).Rooms.Invite[shared]; invited {
				t.Error("carol got an invite to the shared room")
			}
			if got, want := sortedRooms(joinedRooms(t, bob)), sortedRooms([]id.RoomID{shared, leaveLater}); !slices.Equal(got, want) {
				t.Errorf("bob's joined rooms = %v, want %v", got, want)
			}
			profile, err := alice.GetProfile(ctx, bob.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if profile.DisplayName != "bob" {
				t.Errorf("bob's display name = %q, want it unchanged", profile.DisplayName)
			}
			ev := ts.do(t, http.MethodGet, roomPath(shared, "/event/"+url.PathEscape(string(alicesOwn))), alice.AccessToken, nil)
			wantOK(t, ev)
			if content, _ := ev.object(t)["content"].(map[string]any); content["body"] != "alice before" {
				t.Errorf("alice's event after bob's redaction: %s", ev.Body)
			}
		})

		t.Run("allowed actions", func(t *testing.T) {
			resp := ts.sync(t, bob, url.Values{"timeout": {"0"}})
			if got := bodies(resp.Rooms.Join[shared].Timeline.Events); !slices.Contains(got, "alice during") {
				t.Errorf("bob's sync of the shared room has %q, want alice's message sent during the suspension", got)
			}
			if got := ts.allBodies(t, bob, shared); !slices.Contains(got, "alice during") {
				t.Errorf("bob reads %q, want alice's message sent during the suspension", got)
			}
			if _, err := bob.RedactEvent(ctx, shared, bobsOwn); err != nil {
				t.Errorf("bob redacts his own event: %v", err)
			}
			if _, err := bob.LeaveRoom(ctx, leaveLater); err != nil {
				t.Errorf("bob leaves a room: %v", err)
			}
			if _, err := bob.LeaveRoom(ctx, invited); err != nil {
				t.Errorf("bob rejects an invite: %v", err)
			}
			// Leaving through the state endpoint is leaving too.
			if _, err := bob.SendStateEvent(ctx, invitedToo, event.StateMember, string(bob.UserID), map[string]string{"membership": "leave"}); err != nil {
				t.Errorf("bob rejects an invite through /state: %v", err)
			}
			if got := joinedRooms(t, bob); !slices.Equal(got, []id.RoomID{shared}) {
				t.Errorf("bob's joined rooms after leaving = %v, want only the shared room", got)
			}
			// A new session is as suspended as the others.
			bob2 := ts.login(t, bob.UserID, password)
			_, err := bob2.SendText(ctx, shared, "from a new device")
			wantRespError(t, err, http.StatusForbidden, "M_USER_SUSPENDED")
		})

		wantFlag(t, suspend(root.AccessToken, bob.UserID, map[string]bool{"suspended": false}), "suspended", false)

		t.Run("unsuspending restores", func(t *testing.T) {
			mustJoin(t, bob, string(other))
			mustSend(t, bob, other, "bob after")
			if err := bob.SetDisplayName(ctx, "Bob again"); err != nil {
				t.Errorf("set display name: %v", err)
			}
			mustCreateRoom(t, bob, &mautrix.ReqCreateRoom{})
		})
	})
}
