package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"causeway/homeserver/storage/storagetest"
)

// TestTwoUsersChat drives the whole day-to-day flow with mautrix-go's client over real HTTP.
func TestTwoUsersChat(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")

		created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Lunch", Preset: "private_chat", RoomAliasName: "lunch"})
		if err != nil {
			t.Fatalf("create room: %v", err)
		}
		roomID := created.RoomID
		bobSync, err := bob.SyncRequest(ctx, 0, "", "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
			t.Fatalf("invite: %v", err)
		}
		bobSync, err = bob.SyncRequest(ctx, 5000, bobSync.NextBatch, "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := bobSync.Rooms.Invite[roomID]; !ok {
			t.Fatalf("bob's incremental sync has no invite to %s: %+v", roomID, bobSync.Rooms)
		}
		if _, err := bob.JoinRoom(ctx, "#lunch:localhost", nil); err != nil {
			t.Fatalf("join by alias: %v", err)
		}

		var sent []string
		for i := range 25 {
			body := fmt.Sprintf("message %d", i)
			sender := alice
			if i%2 == 1 {
				sender = bob
			}
			mustSend(t, sender, roomID, body)
			sent = append(sent, body)
		}

		bobSync, err = bob.SyncRequest(ctx, 5000, bobSync.NextBatch, "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		joined := bobSync.Rooms.Join[roomID]
		if joined == nil {
			t.Fatalf("bob's sync has no joined room %s", roomID)
		}
		if !joined.Timeline.Limited {
			t.Error("25 new events with the default limit of 10 must give a limited timeline")
		}
		got := bodies(joined.Timeline.Events)
		if want := sent[len(sent)-len(got):]; !slices.Equal(got, want) || len(got) == 0 {
			t.Fatalf("timeline bodies = %v, want the last %d of %v", got, len(got), sent)
		}

		// Paginate backwards from prev_batch and find every earlier message, in order.
		var older []string
		from := joined.Timeline.PrevBatch
		for from != "" {
			page, err := bob.Messages(ctx, roomID, from, "", mautrix.DirectionBackward, nil, 7)
			if err != nil {
				t.Fatalf("messages: %v", err)
			}
			b := bodies(page.Chunk)
			slices.Reverse(b)
			older = append(b, older...)
			from = page.End
		}
		if want := sent[:len(sent)-len(got)]; !slices.Equal(older, want) {
			t.Fatalf("paginated bodies = %v, want %v", older, want)
		}

		// State change, seen by the other user.
		if _, err := bob.SendStateEvent(ctx, roomID, event.StateTopic, "", map[string]any{"topic": "sandwiches"}); err == nil {
			t.Error("bob (power 0) set the topic, which needs 50")
		}
		if _, err := alice.SendStateEvent(ctx, roomID, event.StateTopic, "", map[string]any{"topic": "sandwiches"}); err != nil {
			t.Fatalf("set topic: %v", err)
		}
		var topic event.TopicEventContent
		if err := bob.StateEvent(ctx, roomID, event.StateTopic, "", &topic); err != nil || topic.Topic != "sandwiches" {
			t.Fatalf("bob reads topic %q, %v", topic.Topic, err)
		}

		// Redaction.
		secret := mustSend(t, alice, roomID, "oops, a password")
		if _, err := bob.RedactEvent(ctx, roomID, secret); err == nil {
			t.Error("bob redacted alice's event without the redact power level")
		}
		if _, err := alice.RedactEvent(ctx, roomID, secret); err != nil {
			t.Fatalf("redact: %v", err)
		}
		ev, err := bob.GetEvent(ctx, roomID, secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Content.Raw) != 0 || ev.Unsigned.RedactedBecause == nil {
			t.Errorf("redacted event still has content %v, redacted_because %v", ev.Content.Raw, ev.Unsigned.RedactedBecause)
		}

		// Leave; alice sees it through sync, and bob's later syncs no longer list the room as joined.
		aliceSync, err := alice.SyncRequest(ctx, 0, "", "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
			t.Fatalf("leave: %v", err)
		}
		aliceSync, err = alice.SyncRequest(ctx, 5000, aliceSync.NextBatch, "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		var sawLeave bool
		for _, ev := range aliceSync.Rooms.Join[roomID].Timeline.Events {
			if ev.Type == event.StateMember && ev.GetStateKey() == bob.UserID.String() && ev.Content.Raw["membership"] == "leave" {
				sawLeave = true
			}
		}
		if !sawLeave {
			t.Error("alice's sync does not show bob leaving")
		}
		rooms, err := bob.JoinedRooms(ctx)
		if err != nil || slices.Contains(rooms.JoinedRooms, roomID) {
			t.Errorf("bob's joined rooms after leaving: %v, %v", rooms, err)
		}
	})
}
