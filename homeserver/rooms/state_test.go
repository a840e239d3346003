package rooms

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// TestSkipDeltaSnapshots derives a chain of snapshots (with a fork) from random state changes
// and checks every snapshot against the state computed naively, from a cold cache.
func TestSkipDeltaSnapshots(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		store := newStateStore(8)
		want := map[storage.SnapshotID]State{0: {}}
		parents := []storage.SnapshotID{0}
		const changes = 300
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			for i := range changes {
				// Mostly extend the newest snapshot; sometimes fork from an older one.
				parent := parents[len(parents)-1]
				if i%50 == 49 {
					parent = parents[rng.IntN(len(parents))]
				}
				key := storage.StateKey{Type: "m.room.member", StateKey: fmt.Sprintf("@u%d:hs", rng.IntN(40))}
				ev := id.EventID(fmt.Sprintf("$e%d", i))
				change := storage.StateEntry{StateKey: key, EventID: ev}
				if i%37 == 36 {
					change.EventID = "" // a removal
				}
				snap, err := store.Derive(ctx, tx, "!r:hs", parent, []storage.StateEntry{change}, 1)
				if err != nil {
					return err
				}
				st := maps.Clone(want[parent])
				if change.EventID == "" {
					delete(st, key)
				} else {
					st[key] = ev
				}
				want[snap] = st
				parents = append(parents, snap)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		cold := newStateStore(8)
		for snap, st := range want {
			got, err := cold.StateAt(ctx, db, snap)
			if err != nil {
				t.Fatalf("StateAt(%d): %v", snap, err)
			}
			if !maps.Equal(got, st) {
				t.Fatalf("snapshot %d: got %d entries, want %d", snap, len(got), len(st))
			}
		}
		entries, err := db.SnapshotEntryCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Skip deltas store O(n log n) entries: well under the n*|state|/2 of full copies.
		if bound := int64(changes * 10); entries > bound {
			t.Errorf("%d snapshot entries for %d changes, more than %d", entries, changes, bound)
		}
		t.Logf("%d changes stored as %d snapshot entries", changes, entries)
	})
}
