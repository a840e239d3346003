package appservice_test

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"causeway/homeserver/push"
	"causeway/homeserver/storage/storagetest"
)

// TestPushLeavesOutHistoryAndGhosts: a bridge's ghosts get no notifications, and history an
// importer writes with old timestamps notifies nobody, while a ghost's live message does.
func TestPushLeavesOutHistoryAndGhosts(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		alice := env.user(t, "alice")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		ghost := env.as.Intent("@_bridge_slackbob:localhost")
		if err := ghost.EnsureJoined(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		unread := func() int64 {
			t.Helper()
			rc, err := push.UnreadCounts(ctx, env.srv.DB, alice.UserID, room.RoomID)
			if err != nil {
				t.Fatal(err)
			}
			return rc.Total().Notifications
		}
		oldTS := time.Now().Add(-25 * time.Hour).UnixMilli()
		for _, body := range []string{"from the export", "also old"} {
			if _, err := ghost.SendMassagedMessageEvent(ctx, room.RoomID, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: body}, oldTS); err != nil {
				t.Fatal(err)
			}
		}
		if n := unread(); n != 0 {
			t.Errorf("imported history counts %d notifications, want none", n)
		}
		recent := time.Now().Add(-time.Hour).UnixMilli() // a live message the bridge caught up on
		if _, err := ghost.SendMassagedMessageEvent(ctx, room.RoomID, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: "live"}, recent); err != nil {
			t.Fatal(err)
		}
		if n := unread(); n != 1 {
			t.Errorf("a ghost's live message counts %d notifications, want 1", n)
		}
		if _, err := alice.SendText(ctx, room.RoomID, "to the ghost"); err != nil {
			t.Fatal(err)
		}
		rows, err := env.srv.DB.PushActionsOf(ctx, ghost.UserID, 0, true, false, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 0 {
			t.Errorf("the ghost got notifications: %+v", rows)
		}
	})
}
