package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// newDevice creates a user with one device.
func newDevice(t *testing.T, db *storage.DB, userID id.UserID, deviceID id.DeviceID) {
	t.Helper()
	ctx := context.Background()
	if err := db.InsertUser(ctx, storage.User{ID: userID, CreatedTS: 1}); err != nil && !errors.Is(err, storage.ErrConflict) {
		t.Fatal(err)
	}
	if err := db.UpsertDevice(ctx, storage.Device{UserID: userID, DeviceID: deviceID, CreatedTS: 1}); err != nil {
		t.Fatal(err)
	}
}

func inTx(t *testing.T, db *storage.DB, fn func(tx *storage.Tx) error) {
	t.Helper()
	if err := db.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestFallbackKeyUsedUntilReplaced(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		newDevice(t, db, "@a:hs", "D")
		key := func(keyID, pub string) storage.OneTimeKey {
			return storage.OneTimeKey{UserID: "@a:hs", DeviceID: "D", Algorithm: "signed_curve25519", KeyID: keyID,
				KeyJSON: json.RawMessage(`{"key":"` + pub + `"}`)}
		}
		unused := func() []string {
			types, err := db.UnusedFallbackKeyTypes(ctx, "@a:hs", "D")
			if err != nil {
				t.Fatal(err)
			}
			return types
		}
		claim := func() string {
			var got storage.OneTimeKey
			inTx(t, db, func(tx *storage.Tx) (err error) {
				got, err = tx.ClaimFallbackKey(ctx, "@a:hs", "D", "signed_curve25519")
				return err
			})
			return got.KeyID
		}
		put := func(k storage.OneTimeKey) {
			inTx(t, db, func(tx *storage.Tx) error { return tx.PutFallbackKey(ctx, k, 1) })
		}

		put(key("F1", "one"))
		if diff := cmp.Diff([]string{"signed_curve25519"}, unused()); diff != "" {
			t.Errorf("unused after upload (-want +got):\n%s", diff)
		}
		if got := claim(); got != "F1" || len(unused()) != 0 {
			t.Errorf("claimed %q, unused %v; want F1 and none unused", got, unused())
		}
		if got := claim(); got != "F1" {
			t.Errorf("second claim %q: a fallback key is handed out until replaced", got)
		}
		put(key("F1", "one"))
		if len(unused()) != 0 {
			t.Error("the same key uploaded again became unused")
		}
		put(key("F2", "two"))
		if got := unused(); len(got) != 1 || claim() != "F2" {
			t.Errorf("after a new key: unused %v", got)
		}
	})
}

func TestOneTimeKeysOldestFirstAndDeletedWithDevice(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		newDevice(t, db, "@a:hs", "D")
		for seq, ids := range [][]string{{"b", "a"}, {"c"}} {
			inTx(t, db, func(tx *storage.Tx) error {
				for _, keyID := range ids {
					k := storage.OneTimeKey{UserID: "@a:hs", DeviceID: "D", Algorithm: "signed_curve25519", KeyID: keyID, KeyJSON: json.RawMessage(`"` + keyID + `"`)}
					if existing, err := tx.InsertOneTimeKey(ctx, k, int64(seq), 1); err != nil || existing != nil {
						t.Fatalf("insert %s: %s, %v", keyID, existing, err)
					}
				}
				return nil
			})
		}
		inTx(t, db, func(tx *storage.Tx) error {
			existing, err := tx.InsertOneTimeKey(ctx, storage.OneTimeKey{UserID: "@a:hs", DeviceID: "D", Algorithm: "signed_curve25519",
				KeyID: "a", KeyJSON: json.RawMessage(`"other"`)}, 9, 1)
			if err != nil || string(existing) != `"a"` {
				t.Errorf("inserting a taken key ID: existing %s, %v; want the stored key", existing, err)
			}
			return nil
		})
		var claimed []string
		inTx(t, db, func(tx *storage.Tx) error {
			k, err := tx.ClaimOneTimeKey(ctx, "@a:hs", "D", "signed_curve25519")
			claimed = append(claimed, k.KeyID)
			return err
		})
		if diff := cmp.Diff([]string{"a"}, claimed); diff != "" {
			t.Errorf("first claim (-want +got):\n%s", diff)
		}
		if counts, err := db.OneTimeKeyCounts(ctx, "@a:hs", "D"); err != nil || counts["signed_curve25519"] != 2 {
			t.Errorf("counts = %v, %v", counts, err)
		}
		inTx(t, db, func(tx *storage.Tx) error { return tx.DeleteDevice(ctx, "@a:hs", "D", 5) })
		if counts, err := db.OneTimeKeyCounts(ctx, "@a:hs", "D"); err != nil || len(counts) != 0 {
			t.Errorf("counts after the device was deleted = %v, %v", counts, err)
		}
		if users, err := db.DeviceListChangesOfSharers(ctx, "@a:hs", 0, 100); err != nil || len(users) != 1 {
			t.Errorf("device-list changes after the deletion = %v, %v", users, err)
		}
		var err error
		inTx(t, db, func(tx *storage.Tx) error {
			_, err = tx.ClaimOneTimeKey(ctx, "@a:hs", "D", "signed_curve25519")
			return nil
		})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("claim from a deleted device: %v, want ErrNotFound", err)
		}
	})
}
