package storage_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestCountersAreSequential(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var got []int64
		for range 3 {
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				v, err := tx.NextCounter(ctx, "events")
				got = append(got, v)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff([]int64{1, 2, 3}, got); diff != "" {
			t.Errorf("counter values (-want +got):\n%s", diff)
		}
		cur, err := db.Counter(ctx, "events")
		if err != nil || cur != 3 {
			t.Errorf("Counter = %d, %v; want 3", cur, err)
		}
	})
}

func TestCountersReadTogether(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			_, err := tx.NextCounter(ctx, "receipts")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Counters(ctx, "events", "receipts")
		if diff := cmp.Diff(map[string]int64{"events": 0, "receipts": 1}, got); err != nil || diff != "" {
			t.Errorf("Counters = %v (-want +got):\n%s", err, diff)
		}
		if _, err := db.Counters(ctx, "events", "no such stream"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Counters with an unknown name: %v, want ErrNotFound", err)
		}
	})
}

func TestFailedTransactionWritesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			if err := tx.InsertUser(ctx, storage.User{ID: "@a:hs", CreatedTS: 1}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx err = %v, want boom", err)
		}
		if _, err := db.UserByID(ctx, "@a:hs"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("UserByID after rollback: err = %v, want ErrNotFound", err)
		}
	})
}

func TestUsersAndConflicts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := storage.User{ID: "@alice:hs", PasswordHash: "h", DisplayName: "Alice", CreatedTS: 5}
		if err := db.InsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertUser(ctx, u); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("second insert: err = %v, want ErrConflict", err)
		}
		got, err := db.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("user (-want +got):\n%s", diff)
		}
		if err := db.UpdateDisplayName(ctx, "@nobody:hs", "x"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("update missing user: err = %v, want ErrNotFound", err)
		}
	})
}

func TestUserLockAndSuspension(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := storage.User{ID: "@bob:hs", CreatedTS: 5}
		if err := db.InsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.UpsertDevice(ctx, storage.Device{UserID: u.ID, DeviceID: "DEV", CreatedTS: 5}); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertAccessToken(ctx, "hash", u.ID, "DEV", "", 5, 0); err != nil {
			t.Fatal(err)
		}
		flags := func() (storage.User, storage.AccessToken) {
			t.Helper()
			got, err := db.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := db.AccessTokenByHash(ctx, "hash")
			if err != nil {
				t.Fatal(err)
			}
			return got, tok
		}
		if got, tok := flags(); got.Locked || got.Suspended || tok.Locked || tok.Suspended {
			t.Fatalf("new user: user %+v, token %+v; want neither locked nor suspended", got, tok)
		}

		if err := db.UpdateLocked(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if got, tok := flags(); !got.Locked || got.Suspended || !tok.Locked || tok.Suspended {
			t.Errorf("after lock: user %+v, token %+v; want locked only", got, tok)
		}
		if err := db.UpdateSuspended(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateLocked(ctx, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if got, tok := flags(); got.Locked || !got.Suspended || tok.Locked || !tok.Suspended {
			t.Errorf("after unlock and suspend: user %+v, token %+v; want suspended only", got, tok)
		}

		if err := db.UpdateLocked(ctx, "@nobody:hs", true); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("lock missing user: err = %v, want ErrNotFound", err)
		}
		if err := db.UpdateSuspended(ctx, "@nobody:hs", true); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("suspend missing user: err = %v, want ErrNotFound", err)
		}
	})
}

func TestEventOrderings(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		room := id.RoomID("!r:hs")
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			if err := tx.InsertRoom(ctx, storage.Room{ID: room, Version: "11", Creator: "@a:hs"}); err != nil {
				return err
			}
			sk := ""
			for i, depth := range []int64{1, 2, 2, 3} {
				ev := &storage.Event{ID: id.EventID("$e" + string(rune('a'+i))), RoomID: room, StreamPos: int64(i + 1), Depth: depth,
					Type: "m.room.message", Sender: "@a:hs", PDU: []byte("{}")}
				if i == 0 {
					ev.Type, ev.StateKey = "m.room.create", &sk
				}
				if err := tx.InsertEvent(ctx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids := func(evs []*storage.Event) (out []id.EventID) {
			for _, e := range evs {
				out = append(out, e.ID)
			}
			return out
		}
		before, err := db.RoomEventsBefore(ctx, room, storage.TopoPos{Depth: 3, StreamPos: 4}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]id.EventID{"$ec", "$eb", "$ea"}, ids(before)); diff != "" {
			t.Errorf("before (-want +got):\n%s", diff)
		}
		after, err := db.RoomEventsFrom(ctx, room, storage.TopoPos{Depth: 2, StreamPos: 3}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]id.EventID{"$ec", "$ed"}, ids(after)); diff != "" {
			t.Errorf("after (-want +got):\n%s", diff)
		}
		latest, err := db.RoomEventsInRange(ctx, room, 1, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]id.EventID{"$ed", "$ec"}, ids(latest)); diff != "" {
			t.Errorf("range (-want +got):\n%s", diff)
		}
		state, err := db.RoomStateEventsInRange(ctx, room, 0, 4)
		if err != nil || len(state) != 1 || *state[0].StateKey != "" {
			t.Errorf("state events = %v, %v; want the create event", state, err)
		}
	})
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := storagetest.SQLitePath(t)
	db, err := storage.Open(ctx, "sqlite", path, 1, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *storage.Tx) error { return tx.RecordMigrationForTest(ctx, "homeserver", 999) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = storage.Open(ctx, "sqlite", path, 1, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("open with a newer schema: err = %v, want a refusal", err)
	}
}
