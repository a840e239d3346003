package storage_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// putReceipt stores r with the next receipts position and reports whether it was stored.
func putReceipt(t *testing.T, db *storage.DB, r storage.Receipt) (storage.Receipt, bool) {
	t.Helper()
	ctx := context.Background()
	var stored bool
	err := db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if r.StreamPos, err = tx.NextCounter(ctx, "receipts"); err != nil {
			return err
		}
		stored, err = tx.UpsertReceipt(ctx, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, stored
}

func TestReceiptsMoveForward(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		base := storage.Receipt{RoomID: "!r:hs", UserID: "@a:hs", Type: event.ReceiptTypeRead, TS: 1}
		at := func(evID id.EventID, pos int64, thread string) storage.Receipt {
			r := base
			r.EventID, r.EventPos, r.ThreadID = evID, pos, thread
			return r
		}
		steps := []struct {
			name       string
			r          storage.Receipt
			wantStored bool
		}{
			{"first", at("$5", 5, ""), true},
			{"later event", at("$7", 7, ""), true},
			{"same event again", at("$7", 7, ""), false},
			{"earlier event", at("$6", 6, ""), false},
			{"other thread is its own receipt", at("$6", 6, "main"), true},
		}
		for _, s := range steps {
			if _, stored := putReceipt(t, db, s.r); stored != s.wantStored {
				t.Errorf("%s: stored = %v, want %v", s.name, stored, s.wantStored)
			}
		}
		got, err := db.RoomReceipts(ctx, "@a:hs", "!r:hs", 100, 10)
		if err != nil {
			t.Fatal(err)
		}
		var events []id.EventID
		for _, r := range got {
			events = append(events, r.EventID)
		}
		if diff := cmp.Diff([]id.EventID{"$6", "$7"}, events); diff != "" {
			t.Errorf("receipts, newest first: threaded $6, unthreaded $7 (-want +got):\n%s", diff)
		}
	})
}

func TestReceiptsVisibleToViewer(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const joined, left id.RoomID = "!joined:hs", "!left:hs"
		const viewer, other id.UserID = "@viewer:hs", "@other:hs"
		for _, room := range []id.RoomID{joined, left} {
			if err := db.InsertRoom(ctx, storage.Room{ID: room, Version: "10", Creator: other, CreatedTS: 1}); err != nil {
				t.Fatal(err)
			}
		}
		member := storage.StateKey{Type: event.StateMember.Type, StateKey: string(viewer)}
		if err := db.SetCurrentState(ctx, joined, member, "$join", "join", 1); err != nil {
			t.Fatal(err)
		}
		if err := db.SetCurrentState(ctx, left, member, "$leave", "leave", 2); err != nil {
			t.Fatal(err)
		}
		put := func(room id.RoomID, user id.UserID, typ event.ReceiptType) storage.Receipt {
			r, _ := putReceipt(t, db, storage.Receipt{RoomID: room, UserID: user, Type: typ, EventID: "$e", EventPos: 1, TS: 1})
			return r
		}
		othersRead := put(joined, other, event.ReceiptTypeRead)
		put(joined, other, event.ReceiptTypeReadPrivate)
		ownPrivate := put(joined, viewer, event.ReceiptTypeReadPrivate)
		put(joined, viewer, "m.fully_read")
		put(left, other, event.ReceiptTypeRead)
		laterRead := put(joined, "@third:hs", event.ReceiptTypeRead)

		got, err := db.ReceiptsInRange(ctx, viewer, 0, laterRead.StreamPos, 100)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]storage.Receipt{laterRead, ownPrivate, othersRead}, got); diff != "" {
			t.Errorf("ReceiptsInRange (-want +got):\n%s", diff)
		}
		got, err = db.ReceiptsInRange(ctx, viewer, othersRead.StreamPos, laterRead.StreamPos, 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]storage.Receipt{laterRead}, got); diff != "" {
			t.Errorf("ReceiptsInRange with a limit (-want +got):\n%s", diff)
		}
		got, err = db.RoomReceipts(ctx, viewer, joined, ownPrivate.StreamPos, 100)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]storage.Receipt{ownPrivate, othersRead}, got); diff != "" {
			t.Errorf("RoomReceipts (-want +got):\n%s", diff)
		}
	})
}
