package media

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

const alice = id.UserID("@alice:test")

// newTestRepository returns a repository on db whose clock the test moves by hand.
func newTestRepository(t *testing.T, db *storage.DB) (*Repository, *time.Time) {
	t.Helper()
	var cfg config.Media
	cfg.Defaults()
	store, err := NewDiskStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{Config: cfg, ServerName: "test", DB: db, Store: store, Log: slog.New(slog.DiscardHandler)})
	now := time.UnixMilli(1_700_000_000_000)
	r.now = func() time.Time { return now }
	return r, &now
}

func errCode(err error) string {
	var re mautrix.RespError
	if errors.As(err, &re) {
		return re.ErrCode
	}
	return ""
}

func upload(t *testing.T, r *Repository, body string) id.ContentURI {
	t.Helper()
	uri, err := r.Upload(context.Background(), Upload{Uploader: alice, ContentType: "text/plain", Body: strings.NewReader(body), Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	return uri
}

func TestPendingMediaExpires(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		r, now := newTestRepository(t, db)
		uri, expires, err := r.Create(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(24 * time.Hour); !expires.Equal(want) {
			t.Errorf("expires %v, want %v", expires, want)
		}
		*now = expires
		err = r.UploadPending(ctx, uri, Upload{Uploader: alice, Body: strings.NewReader("late"), Length: -1})
		if errCode(err) != "M_NOT_FOUND" {
			t.Errorf("upload after expiry: %v, want M_NOT_FOUND", err)
		}
		if _, err := r.Open(ctx, uri, Fetch{}); errCode(err) != "M_NOT_FOUND" {
			t.Errorf("download after expiry: %v, want M_NOT_FOUND", err)
		}
		if n, err := r.DeleteExpiredPending(ctx); err != nil || len(n) != 1 {
			t.Errorf("DeleteExpiredPending = %v, %v; want one", n, err)
		}
	})
}

func TestDeleteOlderThanKeepsRecentlyRead(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		r, now := newTestRepository(t, db)
		old := upload(t, r, "old")
		read := upload(t, r, "read later")
		start := *now
		*now = now.Add(48 * time.Hour)
		c, err := r.Open(ctx, read, Fetch{})
		if err != nil {
			t.Fatal(err)
		}
		c.Body.Close()
		n, err := r.DeleteOlderThan(ctx, start.Add(time.Hour))
		if err != nil || len(n) != 1 || n[0] != old {
			t.Fatalf("DeleteOlderThan = %v, %v; want %s", n, err, old)
		}
		if _, err := r.Open(ctx, old, Fetch{}); errCode(err) != "M_NOT_FOUND" {
			t.Errorf("deleted media: %v, want M_NOT_FOUND", err)
		}
		if _, err := r.Open(ctx, read, Fetch{}); err != nil {
			t.Errorf("recently read media: %v", err)
		}
	})
}

func TestQuarantineInRoom(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		r, _ := newTestRepository(t, db)
		inRoom := upload(t, r, "in the room")
		elsewhere := upload(t, r, "elsewhere")
		room := id.RoomID("!room:test")
		err := db.InsertMediaReference(ctx, storage.MediaReference{ServerName: inRoom.Homeserver, MediaID: inRoom.FileID, RoomID: room, EventID: "$ev"})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.QuarantineInRoom(ctx, room, true); err != nil || n != 1 {
			t.Fatalf("QuarantineInRoom = %d, %v; want 1", n, err)
		}
		if _, err := r.Open(ctx, inRoom, Fetch{}); errCode(err) != "M_NOT_FOUND" {
			t.Errorf("quarantined media: %v, want M_NOT_FOUND", err)
		}
		if _, err := r.Open(ctx, elsewhere, Fetch{}); err != nil {
			t.Errorf("other media: %v", err)
		}
		if err := r.Quarantine(ctx, id.ContentURI{Homeserver: "test", FileID: "nope"}, true); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("quarantining unknown media: %v, want ErrNotFound", err)
		}
	})
}
