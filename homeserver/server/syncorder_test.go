package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// TestSyncDeliversEveryEventOnceInOrder has several users send concurrently while a reader
// follows the room through a chain of incremental /sync calls. Across the chain every event
// must arrive exactly once, in the server's stream order. When a timeline comes back limited,
// the reader fills the gap from /messages, as clients do.
func TestSyncDeliversEveryEventOnceInOrder(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		reader := ts.register(t, "reader")
		created, err := reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		roomID := created.RoomID
		var senders []*mautrix.Client
		for i := range 4 {
			cli := ts.register(t, fmt.Sprintf("sender%d", i))
			if _, err := cli.JoinRoomByID(ctx, roomID); err != nil {
				t.Fatal(err)
			}
			senders = append(senders, cli)
		}
		first, err := reader.SyncRequest(ctx, 0, "", "", false, "")
		if err != nil {
			t.Fatal(err)
		}

		const perSender = 40
		var wg sync.WaitGroup
		for i, cli := range senders {
			wg.Go(func() {
				for n := range perSender {
					if _, err := cli.SendText(ctx, roomID, fmt.Sprintf("s%d-%d", i, n)); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			})
		}

		var got []id.EventID
		seen := map[id.EventID]bool{}
		since := first.NextBatch
		deadline := time.Now().Add(2 * time.Minute)
		for len(got) < len(senders)*perSender && time.Now().Before(deadline) {
			resp, err := reader.SyncRequest(ctx, 2000, since, `{"room":{"timeline":{"limit":15}}}`, false, "")
			if err != nil {
				t.Fatal(err)
			}
			since = resp.NextBatch
			joined := resp.Rooms.Join[roomID]
			if joined == nil {
				continue
			}
			batch := joined.Timeline.Events
			if joined.Timeline.Limited {
				gap := fillGap(t, reader, roomID, joined.Timeline.PrevBatch, seen)
				batch = append(gap, batch...)
			}
			for _, ev := range batch {
				if seen[ev.ID] {
					t.Fatalf("event %s arrived twice", ev.ID)
				}
				seen[ev.ID] = true
				if ev.Type == event.EventMessage {
					got = append(got, ev.ID)
				}
			}
		}
		wg.Wait()

		want := storedMessageOrder(t, ts, roomID)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("events through the sync chain differ from stream order (-want +got):\n%s", diff)
		}
	})
}

// fillGap pages backwards from a limited timeline's prev_batch until it meets an event the
// reader already has, and returns the missing events oldest first.
func fillGap(t *testing.T, cli *mautrix.Client, roomID id.RoomID, from string, seen map[id.EventID]bool) []*event.Event {
	t.Helper()
	var gap []*event.Event
	for from != "" {
		page, err := cli.Messages(context.Background(), roomID, from, "", mautrix.DirectionBackward, nil, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Chunk {
			if seen[ev.ID] {
				slices.Reverse(gap)
				return gap
			}
			gap = append(gap, ev)
		}
		from = page.End
	}
	slices.Reverse(gap)
	return gap
}

// storedMessageOrder lists the room's messages in the server's stream order.
func storedMessageOrder(t *testing.T, ts *testServer, roomID id.RoomID) []id.EventID {
	t.Helper()
	ctx := context.Background()
	upto, err := ts.srv.DB.Counter(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := ts.srv.DB.RoomEventsInRange(ctx, roomID, 0, upto, 100000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(evs)
	var out []id.EventID
	for _, ev := range evs {
		if ev.Type == event.EventMessage.Type {
			out = append(out, ev.ID)
		}
	}
	return out
}
