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
}

// Open returns a media item's content, waiting up to f.Wait for a pending upload. Unknown,
// quarantined, expired and remote media are M_NOT_FOUND; content still missing after the wait
// is M_NOT_YET_UPLOADED.
func (m *Repository) Open(ctx context.Context, uri id.ContentURI, f Fetch) (*Content, error) {
	notFound := mxerr.NotFound.WithMessage("Media not found")
	if uri.Homeserver != m.serverName {
		// Remote media needs federation (GET /_matrix/federation/v1/media/download), not built yet.
		return nil, notFound
	}
	deadline := m.now().Add(f.Wait)
	for {
		med, err := m.db.MediaByID(ctx, uri.Homeserver, uri.FileID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, notFound
		} else if err != nil {
			return nil, err
		}
		now := m.now()
		switch {
		case med.Quarantined:
			return nil, notFound
		case f.Legacy && !med.LegacyVisible:
			return nil, notFound
		case med.Pending() && med.PendingExpiresTS <= now.UnixMilli():
			return nil, notFound
		case med.Pending():
			if !now.Before(deadline) {
				return nil, mxerr.NotYetUploaded.WithMessage("The media has not been uploaded yet")
			}
			t := time.NewTimer(min(pollInterval, deadline.Sub(now)))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			continue
		}
		body, err := m.store.Open(ctx, med.ContentHash)
		if err != nil {
			return nil, fmt.Errorf("media %s: %w", uri, err)
		}
		// Record the access at most once a minute: the row just read says when the last one
		// was, so most downloads write nothing (and on SQLite never wait for the one writer).
		if now.UnixMilli()-med.LastAccessTS >= touchInterval.Milliseconds() {
			if err := m.db.TouchMedia(ctx, med.ServerName, med.MediaID, now.UnixMilli()); err != nil {
				m.log.WarnContext(ctx, "cannot record media access", "error", err)
			}
		}
		return &Content{Media: med, Body: body}, nil
	}
}
