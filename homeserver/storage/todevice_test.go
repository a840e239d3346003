package storage_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// queueToDevice stores one message for each device in one transaction, at one new position,
// and returns the position.
func queueToDevice(t *testing.T, db *storage.DB, typ string, devices ...storage.Device) int64 {
	t.Helper()
	ctx := context.Background()
	var pos int64
	err := db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if pos, err = tx.NextCounter(ctx, "to_device"); err != nil {
			return err
		}
		for _, d := range devices {
			m := storage.ToDeviceMessage{UserID: d.UserID, DeviceID: d.DeviceID, StreamPos: pos, Sender: "@s:hs", Type: typ, Content: json.RawMessage(`{"n":1}`)}
			if err := tx.InsertToDeviceMessage(ctx, m, 1000+pos); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// typesOf lists the messages' types.
func typesOf(ms []storage.ToDeviceMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Type)
	}
	return out
}

func TestToDeviceQueue(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.InsertUser(ctx, storage.User{ID: "@bob:hs", CreatedTS: 1}); err != nil {
			t.Fatal(err)
		}
		phone := storage.Device{UserID: "@bob:hs", DeviceID: "PHONE", CreatedTS: 1}
		laptop := storage.Device{UserID: "@bob:hs", DeviceID: "LAPTOP", CreatedTS: 1}
		for _, d := range []storage.Device{phone, laptop} {
			if err := db.UpsertDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		p1 := queueToDevice(t, db, "one", phone, laptop)
		p2 := queueToDevice(t, db, "two", phone)
		p3 := queueToDevice(t, db, "three", phone)
		upto, err := db.Counter(ctx, "to_device")
		if err != nil || upto != p3 {
			t.Fatalf("counter = %d, %v; want %d", upto, err, p3)
		}

		got, err := db.ToDeviceMessages(ctx, "@bob:hs", "PHONE", 0, upto, 2)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"one", "two"}, typesOf(got)); diff != "" {
			t.Errorf("first two of the phone's queue (-want +got):\n%s", diff)
		}
		if got, _ := db.ToDeviceMessages(ctx, "@bob:hs", "PHONE", p1, p2, 10); len(got) != 1 || got[0].StreamPos != p2 {
			t.Errorf("messages in (p1, p2] = %+v, want the second only", got)
		}
		if oldest, err := db.OldestToDevicePos(ctx, "@bob:hs", "PHONE"); err != nil || oldest != p1 {
			t.Errorf("oldest = %d, %v; want %d", oldest, err, p1)
		}

		// Acknowledging the phone's first two leaves the third, and the laptop's queue.
		if n, err := db.DeleteToDeviceMessagesUpTo(ctx, "@bob:hs", "PHONE", p2); err != nil || n != 2 {
			t.Errorf("deleted %d, %v; want 2", n, err)
		}
		if got, _ := db.ToDeviceMessages(ctx, "@bob:hs", "PHONE", 0, upto, 10); len(got) != 1 || got[0].Type != "three" {
			t.Errorf("phone's queue after the acknowledgement = %v", typesOf(got))
		}
		if got, _ := db.ToDeviceMessages(ctx, "@bob:hs", "LAPTOP", 0, upto, 10); len(got) != 1 || got[0].Type != "one" {
			t.Errorf("laptop's queue = %v", typesOf(got))
		}

		// Deleting a device deletes its queue.
		if err := db.InTx(ctx, func(tx *storage.Tx) error { return tx.DeleteDevice(ctx, "@bob:hs", "LAPTOP", 1) }); err != nil {
			t.Fatal(err)
		}
		if oldest, err := db.OldestToDevicePos(ctx, "@bob:hs", "LAPTOP"); err != nil || oldest != 0 {
			t.Errorf("deleted device's oldest = %d, %v; want an empty queue", oldest, err)
		}

		// Purging by age.
		var purged int64
		err = db.InTx(ctx, func(tx *storage.Tx) (err error) {
			purged, err = tx.DeleteToDeviceOlderThan(ctx, 1000+p3+1)
			return err
		})
		if err != nil || purged != 1 {
			t.Errorf("purged %d, %v; want the one message left", purged, err)
		}
	})
}

func TestToDeviceTxnClaimedOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		claim := func(device id.DeviceID, typ, txn string) bool {
			t.Helper()
			var fresh bool
			err := db.InTx(ctx, func(tx *storage.Tx) (err error) {
				fresh, err = tx.ClaimToDeviceTxn(ctx, "@a:hs", device, typ, txn, 1)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return fresh
		}
		steps := []struct {
			name        string
			device      id.DeviceID
			typ, txn    string
			wantClaimed bool
		}{
			{"first", "D1", "m.t", "1", true},
			{"retry", "D1", "m.t", "1", false},
			{"other event type is another path", "D1", "m.u", "1", true},
			{"other device", "D2", "m.t", "1", true},
			{"no device (an appservice)", "", "m.t", "1", true},
		}
		for _, s := range steps {
			if got := claim(s.device, s.typ, s.txn); got != s.wantClaimed {
				t.Errorf("%s: claimed = %v, want %v", s.name, got, s.wantClaimed)
			}
		}
	})
}
