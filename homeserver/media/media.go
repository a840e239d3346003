// Package media is the media repository: it stores uploaded files (content-addressed, one copy
// per unique content, behind the Store interface), records their metadata through storage,
// serves uploads and downloads over HTTP (data/api/client-server/authed-content-repo.yaml and
// content-repo.yaml), and offers the admin operations (quarantine, deletion, usage).
//
// Thumbnails are made by media/thumbnail and kept here; URL previews are fetched by
// media/preview. Other servers' media is cached here and fetched through Remote, which
// federation implements. No SQL lives here.
package media

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"golang.org/x/sync/singleflight"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/media/preview"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// maxPendingPerUser bounds the asynchronous uploads one user may have waiting for content,
// so that POST /create cannot fill the table (content-repo.yaml answers M_LIMIT_EXCEEDED).
const maxPendingPerUser = 100

// Repository is the media repository's domain logic.
type Repository struct {
	cfg        config.Media
	serverName string
	db         *storage.DB
	store      Store
	remote     Remote             // nil until federation lands
	previewer  *preview.Previewer // nil when URL previews are off
	log        *slog.Logger
	now        func() time.Time
	fetches    singleflight.Group // remote fetches in flight, by mxc URI
	thumbs     singleflight.Group // thumbnails being made, by media and size class
	thumbSlots chan struct{}      // one per image being decoded for thumbnails
	previews   singleflight.Group // URL previews being fetched, by URL
}

// Options are what New needs.
type Options struct {
	Config     config.Media
	ServerName string
	DB         *storage.DB
	Store      Store
	Remote     Remote // fetches other servers' media; nil: they are M_NOT_FOUND
	Log        *slog.Logger
}

// New returns the media repository.
func New(opts Options) *Repository {
	return &Repository{
		cfg:        opts.Config,
		serverName: opts.ServerName,
		db:         opts.DB,
		store:      opts.Store,
		remote:     opts.Remote,
		previewer:  newPreviewer(opts.Config.URLPreview),
		thumbSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		log:        opts.Log,
		now:        time.Now,
	}
}

// MaxUploadBytes is the largest upload accepted.
func (m *Repository) MaxUploadBytes() int64 { return m.cfg.MaxUploadBytes }

// Upload is one file sent by a client.
type Upload struct {
	Uploader    id.UserID
	ContentType string
	FileName    string
	Body        io.Reader // limited by the caller to MaxUploadBytes, e.g. with http.MaxBytesReader
	Length      int64     // the announced length, -1 if unknown
}

// newMediaID returns a fresh random media ID (26 characters of [A-Z2-7]).
func newMediaID() string { return rand.Text() }

// Upload stores a file under a new media ID and returns its mxc:// URI.
func (m *Repository) Upload(ctx context.Context, up Upload) (id.ContentURI, error) {
	if err := m.checkQuota(ctx, up.Uploader, max(up.Length, 0)); err != nil {
		return id.ContentURI{}, err
	}
	hash, size, err := m.put(ctx, up)
	if err != nil {
		return id.ContentURI{}, err
	}
	now := m.now().UnixMilli()
	med := storage.Media{
		ServerName: m.serverName, MediaID: newMediaID(), ContentHash: hash, Size: size,
		ContentType: up.ContentType, UploadName: up.FileName, Uploader: up.Uploader,
		CreatedTS: now, LastAccessTS: now, LegacyVisible: !m.cfg.FreezeLegacyUnauthenticated,
	}
	if err := m.db.InsertMedia(ctx, med); err != nil {
		m.dropBlob(ctx, hash)
		return id.ContentURI{}, err
	}
	m.pregenerate(ctx, med)
	return id.ContentURI{Homeserver: m.serverName, FileID: med.MediaID}, nil
}

// Create reserves a media ID for an asynchronous upload (POST /_matrix/media/v1/create) and
// returns it with the time at which it expires unused.
func (m *Repository) Create(ctx context.Context, uploader id.UserID) (id.ContentURI, time.Time, error) {
	now := m.now()
	n, err := m.db.CountPendingMedia(ctx, uploader, now.UnixMilli())
	if err != nil {
		return id.ContentURI{}, time.Time{}, err
	}
	if n >= maxPendingPerUser {
		return id.ContentURI{}, time.Time{}, mxerr.LimitExceeded.WithMessage("Too many media IDs awaiting their upload")
	}
	expires := now.Add(m.cfg.UnusedAsyncExpiry.Std())
	med := storage.Media{
		ServerName: m.serverName, MediaID: newMediaID(), Uploader: uploader,
		CreatedTS: now.UnixMilli(), LastAccessTS: now.UnixMilli(), PendingExpiresTS: expires.UnixMilli(),
		LegacyVisible: !m.cfg.FreezeLegacyUnauthenticated,
	}
	if err := m.db.InsertMedia(ctx, med); err != nil {
		return id.ContentURI{}, time.Time{}, err
	}
	return id.ContentURI{Homeserver: m.serverName, FileID: med.MediaID}, expires, nil
}

// UploadPending gives content to a media ID that Create reserved: only its creator may, only
// once, and only before it expires (PUT /_matrix/media/v3/upload/{serverName}/{mediaId}).
func (m *Repository) UploadPending(ctx context.Context, uri id.ContentURI, up Upload) error {
	if uri.Homeserver != m.serverName {
		return mxerr.NotFound.WithMessage("Unknown media ID")
	}
	med, err := m.db.MediaByID(ctx, uri.Homeserver, uri.FileID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound.WithMessage("Unknown media ID")
	} else if err != nil {
		return err
	}
	switch {
	case med.Uploader != up.Uploader:
		return mxerr.Forbidden.WithMessage("This media ID was created by another user")
	case !med.Pending():
		return mxerr.CannotOverwriteMedia.WithMessage("Media already uploaded")
	case med.PendingExpiresTS <= m.now().UnixMilli():
		return mxerr.NotFound.WithMessage("This media ID has expired")
	}
	if err := m.checkQuota(ctx, up.Uploader, max(up.Length, 0)); err != nil {
		return err
	}
	hash, size, err := m.put(ctx, up)
	if err != nil {
		return err
	}
	med.ContentHash, med.Size, med.ContentType, med.UploadName = hash, size, up.ContentType, up.FileName
	done, err := m.db.CompletePendingMedia(ctx, med, m.now().UnixMilli())
	if err == nil && !done {
		err = mxerr.CannotOverwriteMedia.WithMessage("Media already uploaded")
	}
	if err != nil {
		m.dropBlob(ctx, hash)
		return err
	}
	m.pregenerate(ctx, med)
	return nil
}

// put streams an upload into the store and checks the quota against its real size.
func (m *Repository) put(ctx context.Context, up Upload) (string, int64, error) {
	hash, size, err := m.store.Put(ctx, up.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "", 0, mxerr.TooLarge.WithMessage("The file is larger than the limit of %d bytes", m.cfg.MaxUploadBytes)
	}
	if err != nil {
		return "", 0, err
	}
	if err := m.checkQuota(ctx, up.Uploader, size); err != nil {
		m.dropBlob(ctx, hash)
		return "", 0, err
	}
	return hash, size, nil
}

// checkQuota refuses an upload of size bytes that would take the user over user_quota_bytes.
// The spec lists a reached quota under 403 M_FORBIDDEN for uploads (content-repo.yaml); the
// newer M_USER_LIMIT_EXCEEDED (v1.18) requires an info_uri that Causeway has no page for yet.
func (m *Repository) checkQuota(ctx context.Context, userID id.UserID, size int64) error {
	if m.cfg.UserQuotaBytes == 0 || userID == "" { // "": the server's own, e.g. preview images
		return nil
	}
	_, used, err := m.db.MediaUsage(ctx, userID)
	if err != nil {
		return err
	}
	if used+size > m.cfg.UserQuotaBytes {
		return mxerr.Forbidden.WithMessage("This upload would exceed your media quota of %d bytes (%d used)", m.cfg.UserQuotaBytes, used)
	}
	return nil
}

// dropBlob removes a blob that no media item records, after a failed upload. A blob that
// another item shares stays.
//
// A concurrent upload of the same bytes could have renamed its copy into place and be about
// to record it; deleting now would lose that file. The window is small and a repair job can
// re-derive it, but the S3 backend should keep this in mind.
func (m *Repository) dropBlob(ctx context.Context, hash string) {
	ctx = context.WithoutCancel(ctx) // clean up even if the client went away
	known, err := m.db.MediaContentExists(ctx, hash)
	if err != nil || known {
		return
	}
	if err := m.store.Delete(ctx, hash); err != nil {
		m.log.WarnContext(ctx, "cannot delete unused media blob", "error", err)
	}
}
