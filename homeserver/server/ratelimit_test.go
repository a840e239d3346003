package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// TestSendRateLimit checks that a user sending faster than the configured rate gets
// M_LIMIT_EXCEEDED with retry_after_ms, and that nothing was stored for the refused send.
func TestSendRateLimit(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.ClientAPI.RateLimit = config.RateLimit{Enabled: true, PerSecond: 0.001, Burst: 3}
		})
		cli := ts.register(t, "chatty")
		room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		// createRoom used one token of the burst of 3.
		for range 2 {
			if _, err := cli.SendText(ctx, room.RoomID, "within the limit"); err != nil {
				t.Fatal(err)
			}
		}
		_, err = cli.SendText(ctx, room.RoomID, "one too many")
		var httpErr mautrix.HTTPError
		if !errors.As(err, &httpErr) || httpErr.RespError == nil {
			t.Fatalf("send over the limit: err = %v, want M_LIMIT_EXCEEDED", err)
		}
		if httpErr.RespError.ErrCode != "M_LIMIT_EXCEEDED" || httpErr.Response.StatusCode != http.StatusTooManyRequests {
			t.Errorf("got %d %s, want 429 M_LIMIT_EXCEEDED", httpErr.Response.StatusCode, httpErr.RespError.ErrCode)
		}
		if _, ok := httpErr.RespError.ExtraData["retry_after_ms"]; !ok {
			t.Error("M_LIMIT_EXCEEDED without retry_after_ms")
		}
		msgs, err := cli.Messages(ctx, room.RoomID, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := bodies(msgs.Chunk); len(got) != 2 {
			t.Errorf("room holds messages %v, want the 2 within the limit", got)
		}
	})
}

// TestMediaRateLimit checks that uploads share the user's rate limit and that downloads do not
// spend it: a refused upload stores nothing.
func TestMediaRateLimit(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.ClientAPI.RateLimit = config.RateLimit{Enabled: true, PerSecond: 0.001, Burst: 2}
		})
		cli := ts.register(t, "uploader")
		uri := mustUpload(t, cli, []byte("one"), "text/plain", "")
		for range 5 {
			wantOK(t, ts.mediaRequest(t, http.MethodGet, downloadPath(uri), cli.AccessToken, nil, nil))
		}
		mustUpload(t, cli, []byte("two"), "text/plain", "")
		blobs := blobCount(t, ts)
		_, err := cli.UploadBytes(ctx, []byte("three"), "text/plain")
		wantRespError(t, err, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
		if got := blobCount(t, ts); got != blobs {
			t.Errorf("the refused upload left %d blobs behind", got-blobs)
		}
	})
}

// TestActionRateLimits: each limited action has its own bucket on top of the general one, a
// refused request stores nothing, and admins are exempt.
func TestActionRateLimits(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		slow := func(burst int) config.Bucket { return config.Bucket{PerSecond: 0.001, Burst: burst} }
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.ClientAPI.RateLimit = config.RateLimit{Enabled: true, PerSecond: 100, Burst: 100,
				Message: slow(3), Login: slow(3), Join: slow(1), Invite: slow(1), ExemptAdmins: true}
		})
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		root := ts.registerAdmin(t, "root") // one login
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		limited := func(what string, err error) {
			t.Helper()
			var httpErr mautrix.HTTPError
			if !errors.As(err, &httpErr) || httpErr.RespError == nil || httpErr.RespError.ErrCode != "M_LIMIT_EXCEEDED" || httpErr.RespError.ExtraData["retry_after_ms"] == nil {
				t.Errorf("%s: %v, want M_LIMIT_EXCEEDED with retry_after_ms", what, err)
			}
		}

		for range 3 {
			mustSend(t, alice, roomID, "within the limit")
		}
		_, err := alice.SendText(ctx, roomID, "one too many")
		limited("a fourth message", err)
		mustJoin(t, root, string(roomID))
		for range 5 {
			mustSend(t, root, roomID, "an admin is not limited")
		}
		msgs, err := alice.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := bodies(msgs.Chunk); len(got) != 8 {
			t.Errorf("the room holds %d messages, want alice's 3 and root's 5: %v", len(got), got)
		}

		// Joins: bob's second is refused and leaves no membership behind.
		other := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		_, err = bob.JoinRoomByID(ctx, other)
		limited("a second join", err)
		if m, _ := ts.srv.Rooms.Membership(ctx, other, bob.UserID); m != "" {
			t.Errorf("bob's membership after the refused join: %q", m)
		}
		// Invites likewise.
		if _, err := alice.InviteUser(ctx, other, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
			t.Fatal(err)
		}
		_, err = alice.InviteUser(ctx, other, &mautrix.ReqInviteUser{UserID: carol.UserID})
		limited("a second invite", err)
		if m, _ := ts.srv.Rooms.Membership(ctx, other, carol.UserID); m != "" {
			t.Errorf("carol's membership after the refused invite: %q", m)
		}
		// Logins, by address: root's was the first.
		ts.login(t, alice.UserID, password)
		ts.login(t, bob.UserID, password)
		anon, _ := mautrix.NewClient(ts.URL, "", "")
		_, err = anon.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"}, Password: password})
		limited("a fourth login from one address", err)
	})
}
