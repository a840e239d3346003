package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// originServer stands in for another homeserver's media endpoint until federation exists: it
// serves fixed files and counts the fetches.
type originServer struct {
	files   map[string]string
	fetches atomic.Int32
	release chan struct{} // if set, downloads wait for it
}

func (o *originServer) Download(ctx context.Context, uri id.ContentURI) (RemoteContent, error) {
	o.fetches.Add(1)
	if o.release != nil {
		<-o.release
	}
	body, ok := o.files[uri.FileID]
	if !ok {
		return RemoteContent{}, fmt.Errorf("%s: %w", uri, ErrRemoteNotFound)
	}
	if body == "unreachable" {
		return RemoteContent{}, errors.New("connection refused")
	}
	return RemoteContent{Body: io.NopCloser(strings.NewReader(body)), ContentType: "text/plain", FileName: uri.FileID + ".txt"}, nil
}

func newRemoteRepository(t *testing.T, db *storage.DB, origin *originServer) (*Repository, *time.Time) {
	t.Helper()
	r, now := newTestRepository(t, db)
	r.remote = origin
	return r, now
}

func readAll(t *testing.T, c *Content) string {
	t.Helper()
	defer c.Body.Close()
	b, err := io.ReadAll(c.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRemoteMediaCache(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		origin := &originServer{files: map[string]string{"cat": "meow", "big": strings.Repeat("x", 2048), "down": "unreachable"}}
		r, now := newRemoteRepository(t, db, origin)
		cat := id.ContentURI{Homeserver: "elsewhere.example", FileID: "cat"}

		for range 3 {
			c, err := r.Open(ctx, cat, Fetch{})
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, c); got != "meow" || c.UploadName != "cat.txt" || !c.Remote {
				t.Errorf("got %q named %q (remote %v)", got, c.UploadName, c.Remote)
			}
		}
		if n := origin.fetches.Load(); n != 1 {
			t.Errorf("origin fetched %d times, want once: later downloads come from the cache", n)
		}

		t.Run("errors", func(t *testing.T) {
			_, err := r.Open(ctx, id.ContentURI{Homeserver: "elsewhere.example", FileID: "missing"}, Fetch{})
			if errCode(err) != "M_NOT_FOUND" {
				t.Errorf("missing at origin: %v", err)
			}
			_, err = r.Open(ctx, id.ContentURI{Homeserver: "elsewhere.example", FileID: "down"}, Fetch{})
			if errCode(err) != "M_CONNECTION_FAILED" {
				t.Errorf("origin failing: %v", err)
			}
			r.cfg.MaxUploadBytes = 1024
			_, err = r.Open(ctx, id.ContentURI{Homeserver: "elsewhere.example", FileID: "big"}, Fetch{})
			if errCode(err) != "M_TOO_LARGE" {
				t.Errorf("larger than the limit: %v", err)
			}
			if _, err := r.Open(ctx, cat, Fetch{Legacy: true, LocalOnly: true}); errCode(err) != "M_NOT_FOUND" {
				t.Errorf("allow_remote=false: %v", err)
			}
		})

		t.Run("quarantine", func(t *testing.T) {
			if err := r.Quarantine(ctx, cat, true); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Open(ctx, cat, Fetch{}); errCode(err) != "M_NOT_FOUND" {
				t.Errorf("quarantined remote media: %v", err)
			}
			if err := r.Quarantine(ctx, cat, false); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("pruning the cache by last access", func(t *testing.T) {
			local := upload(t, r, "mine")
			*now = now.Add(48 * time.Hour)
			n, err := r.DeleteRemoteOlderThan(ctx, now.Add(-24*time.Hour))
			if err != nil || len(n) != 1 {
				t.Fatalf("DeleteRemoteOlderThan = %v, %v; want the one cached item", n, err)
			}
			if _, err := r.Open(ctx, local, Fetch{}); err != nil {
				t.Errorf("a local upload went with the cache: %v", err)
			}
			c, err := r.Open(ctx, cat, Fetch{})
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, c)
			if n := origin.fetches.Load(); n < 2 {
				t.Errorf("after pruning, the origin was not asked again")
			}
		})
	})
}

func TestRemoteMediaFetchedOnceForConcurrentRequests(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		origin := &originServer{files: map[string]string{"cat": "meow"}, release: make(chan struct{})}
		r, _ := newRemoteRepository(t, db, origin)
		cat := id.ContentURI{Homeserver: "elsewhere.example", FileID: "cat"}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				c, err := r.Open(ctx, cat, Fetch{})
				if err == nil {
					c.Body.Close()
				}
				errs <- err
			})
		}
		// Let the requests pile up behind the first fetch before the origin answers.
		time.Sleep(100 * time.Millisecond)
		close(origin.release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := origin.fetches.Load(); n != 1 {
			t.Errorf("origin fetched %d times for 8 concurrent requests, want 1", n)
		}
	})
}
