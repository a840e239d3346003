package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// pollInterval is how often a download waiting for an asynchronous upload looks again. Polling
// the database (rather than waking in process) also sees uploads made on other instances.
const pollInterval = 200 * time.Millisecond

// touchInterval is how stale last_access_ts may get; storage.TouchMedia uses the same minute.
const touchInterval = time.Minute

// Content is a media item ready to be served. The caller closes Body.
type Content struct {
	storage.Media
	Body io.ReadSeekCloser
}

// Fetch is how a download asks for media.
type Fetch struct {
	// Legacy marks the unauthenticated /_matrix/media/v3/download endpoints, which serve only
	// media uploaded while they were not frozen.
	Legacy bool
	// Wait is how long to wait for an asynchronous upload's content (timeout_ms).
	Wait time.Duration
	// LocalOnly refuses other servers' media (allow_remote=false on the legacy endpoints).
	LocalOnly bool
}

// errMediaNotFound answers for unknown, quarantined, expired and frozen media alike, so that
// the answer tells nothing about which.
var errMediaNotFound = mxerr.NotFound.WithMessage("Media not found")

// Open returns a media item's content, waiting up to f.Wait for a pending upload. Unknown,
// quarantined and expired media are M_NOT_FOUND; content still missing after the wait is
// M_NOT_YET_UPLOADED.
func (m *Repository) Open(ctx context.Context, uri id.ContentURI, f Fetch) (*Content, error) {
	med, err := m.find(ctx, uri, f)
	if err != nil {
		return nil, err
	}
	body, err := m.store.Open(ctx, med.ContentHash)
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", uri, err)
	}
	m.touch(ctx, med)
	return &Content{Media: med, Body: body}, nil
}

// find returns the record of a media item that may be served, with its content uploaded:
// local media from the database, remote media from the cache (fetched into it if need be).
func (m *Repository) find(ctx context.Context, uri id.ContentURI, f Fetch) (storage.Media, error) {
	if uri.Homeserver != m.serverName {
		return m.findRemote(ctx, uri, f)
	}
	deadline := m.now().Add(f.Wait)
	for {
		med, err := m.db.MediaByID(ctx, uri.Homeserver, uri.FileID)
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Media{}, errMediaNotFound
		} else if err != nil {
			return storage.Media{}, err
		}
		now := m.now()
		switch {
		case med.Quarantined:
			return storage.Media{}, errMediaNotFound
		case f.Legacy && !med.LegacyVisible:
			return storage.Media{}, errMediaNotFound
		case med.Pending() && med.PendingExpiresTS <= now.UnixMilli():
			return storage.Media{}, errMediaNotFound
		case !med.Pending():
			return med, nil
		case !now.Before(deadline):
			return storage.Media{}, mxerr.NotYetUploaded.WithMessage("The media has not been uploaded yet")
		}
		t := time.NewTimer(min(pollInterval, deadline.Sub(now)))
		select {
		case <-ctx.Done():
			t.Stop()
			return storage.Media{}, ctx.Err()
		case <-t.C:
		}
	}
}

// touch records an access at most once a minute: the row just read says when the last one
// was, so most downloads write nothing (and on SQLite never wait for the one writer).
func (m *Repository) touch(ctx context.Context, med storage.Media) {
	now := m.now().UnixMilli()
	if now-med.LastAccessTS < touchInterval.Milliseconds() {
		return
	}
	if err := m.db.TouchMedia(ctx, med.ServerName, med.MediaID, now); err != nil {
		m.log.WarnContext(ctx, "cannot record media access", "error", err)
	}
}
