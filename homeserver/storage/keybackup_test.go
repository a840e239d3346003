package storage_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// createKeyBackup creates userID's next backup version and returns its number.
func createKeyBackup(t *testing.T, db *storage.DB, userID id.UserID) int64 {
	t.Helper()
	version, err := newKeyBackup(db, userID)
	if err != nil {
		t.Fatal(err)
	}
	return version
}

func newKeyBackup(db *storage.DB, userID id.UserID) (int64, error) {
	ctx := context.Background()
	var version int64
	err := db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if version, err = tx.NextKeyBackupVersion(ctx, userID); err != nil {
			return err
		}
		return tx.InsertKeyBackupVersion(ctx, storage.KeyBackupVersion{
			UserID: userID, Version: version, Algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", AuthData: []byte(`{"public_key":"k"}`),
		}, 1)
	})
	return version, err
}

func insertUsers(t *testing.T, db *storage.DB, users ...id.UserID) {
	t.Helper()
	for _, u := range users {
		if err := db.InsertUser(context.Background(), storage.User{ID: u, CreatedTS: 1}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKeyBackupVersionsNumberedPerUser(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const alice, bob id.UserID = "@alice:hs", "@bob:hs"
		insertUsers(t, db, alice, bob)
		if _, err := db.LatestKeyBackupVersion(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("latest version with no backup: %v, want ErrNotFound", err)
		}
		got := []int64{createKeyBackup(t, db, alice), createKeyBackup(t, db, alice), createKeyBackup(t, db, bob)}
		if diff := cmp.Diff([]int64{1, 2, 1}, got); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			deleted, err := tx.DeleteKeyBackupVersion(ctx, alice, 2)
			if !deleted {
				t.Error("version 2 was not deleted")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if latest, err := db.LatestKeyBackupVersion(ctx, alice); err != nil || latest.Version != 1 {
			t.Errorf("latest after deleting 2 = %d, %v; want 1", latest.Version, err)
		}
		if v := createKeyBackup(t, db, alice); v != 3 {
			t.Errorf("the version after a deleted 2 is %d, want 3 (numbers are not reused)", v)
		}
	})
}

func TestKeyBackupConcurrentCreatesGetDistinctVersions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const alice id.UserID = "@alice:hs"
		insertUsers(t, db, alice)
		const n = 8
		versions := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { versions[i], errs[i] = newKeyBackup(db, alice) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
		if diff := cmp.Diff([]int64{1, 2, 3, 4, 5, 6, 7, 8}, versions); diff != "" {
			t.Errorf("versions of concurrent creates (-want +got):\n%s", diff)
		}
	})
}

func TestKeyBackupSessions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const alice id.UserID = "@alice:hs"
		insertUsers(t, db, alice)
		v1 := createKeyBackup(t, db, alice)
		key := func(room id.RoomID, session id.SessionID, index int64) storage.KeyBackupSession {
			return storage.KeyBackupSession{RoomID: room, SessionID: session, FirstMessageIndex: index, SessionData: []byte(`{"ciphertext":"` + string(session) + `"}`)}
		}
		put := func(version int64, keys ...storage.KeyBackupSession) {
			t.Helper()
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				for _, k := range keys {
					if err := tx.PutKeyBackupSession(ctx, alice, version, k, 1); err != nil {
						return err
					}
				}
				return tx.BumpKeyBackupETag(ctx, alice, version)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		put(v1, key("!b:hs", "s3", 0), key("!a:hs", "s2", 0), key("!a:hs", "s1", 0))
		put(v1, key("!a:hs", "s1", 7)) // replaces
		v, err := db.KeyBackupVersionOf(ctx, alice, v1)
		if err != nil || v.Count != 3 || v.ETag != 2 {
			t.Errorf("version = %+v, %v; want count 3, etag 2", v, err)
		}
		all, err := db.KeyBackupSessions(ctx, alice, v1, "")
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.KeyBackupSession{key("!a:hs", "s1", 7), key("!a:hs", "s2", 0), key("!b:hs", "s3", 0)}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("all keys (-want +got):\n%s", diff)
		}
		meta, err := db.RoomKeyBackupMetadata(ctx, alice, v1, "!a:hs")
		if err != nil || len(meta) != 2 || meta["s1"].FirstMessageIndex != 7 || meta["s1"].SessionData != nil {
			t.Errorf("metadata of !a = %+v, %v", meta, err)
		}

		// Another version keeps its own keys.
		v2 := createKeyBackup(t, db, alice)
		put(v2, key("!a:hs", "s1", 0))
		if got, _ := db.KeyBackupSessions(ctx, alice, v2, ""); len(got) != 1 {
			t.Errorf("version 2 has %d keys, want 1", len(got))
		}

		deleted := func(room id.RoomID, session id.SessionID) int64 {
			t.Helper()
			var n int64
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				n, err = tx.DeleteKeyBackupSessions(ctx, alice, v1, room, session)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := deleted("!a:hs", "s2"); n != 1 {
			t.Errorf("deleting one session deleted %d", n)
		}
		if n := deleted("!a:hs", "s2"); n != 0 {
			t.Errorf("deleting it again deleted %d", n)
		}
		if n := deleted("!a:hs", ""); n != 1 {
			t.Errorf("deleting room !a deleted %d, want the 1 left", n)
		}
		if n := deleted("", ""); n != 1 {
			t.Errorf("deleting all deleted %d, want the 1 left", n)
		}

		// Deleting a version deletes its keys.
		err = db.InTx(ctx, func(tx *storage.Tx) error {
			_, err := tx.DeleteKeyBackupVersion(ctx, alice, v2)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := db.KeyBackupSessions(ctx, alice, v2, ""); len(got) != 0 {
			t.Errorf("a deleted version still has %d keys", len(got))
		}
		if _, err := db.KeyBackupSessionOf(ctx, alice, v2, "!a:hs", "s1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("key of a deleted version: %v, want ErrNotFound", err)
		}
	})
}
