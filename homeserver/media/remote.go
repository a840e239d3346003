package media

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// remoteFetchTimeout bounds one fetch of another server's media, whoever waits for it.
const remoteFetchTimeout = 2 * time.Minute

// ErrRemoteNotFound is what a Remote returns when the origin server does not have the media.
var ErrRemoteNotFound = errors.New("remote media not found")

// Remote fetches media from the server that holds it. Federation will implement it with
// GET /_matrix/federation/v1/media/download/{mediaId} (the authenticated federation media
// endpoint); until then the repository has none, and other servers' media is M_NOT_FOUND.
type Remote interface {
	// Download starts streaming uri's content from its origin. It returns an error wrapping
	// ErrRemoteNotFound when the origin does not have it.
	Download(ctx context.Context, uri id.ContentURI) (RemoteContent, error)
}

// RemoteContent is a download from another server. The receiver closes Body.
type RemoteContent struct {
	Body        io.ReadCloser
	ContentType string
	FileName    string
}

// findRemote returns the cached copy of another server's media, fetching it into the cache on
// first use. Cached copies are media rows under their origin's server name, marked remote.
func (m *Repository) findRemote(ctx context.Context, uri id.ContentURI, f Fetch) (storage.Media, error) {
	if f.LocalOnly {
		return storage.Media{}, errMediaNotFound
	}
	med, err := m.db.MediaByID(ctx, uri.Homeserver, uri.FileID)
	switch {
	case err == nil && med.Quarantined:
		return storage.Media{}, errMediaNotFound
	case err == nil && f.Legacy && !med.LegacyVisible:
		return storage.Media{}, errMediaNotFound
	case err == nil:
		return med, nil
	case !errors.Is(err, storage.ErrNotFound):
		return storage.Media{}, err
	case m.remote == nil:
		return storage.Media{}, errMediaNotFound
	}
	// Concurrent requests for the same media share one fetch.
	v, err, _ := m.fetches.Do(uri.String(), func() (any, error) {
		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), remoteFetchTimeout)
		defer cancel()
		return m.cacheRemote(fetchCtx, uri)
	})
	if err != nil {
		return storage.Media{}, err
	}
	return v.(storage.Media), nil
}

// cacheRemote fetches another server's media into the blob store and records it.
func (m *Repository) cacheRemote(ctx context.Context, uri id.ContentURI) (storage.Media, error) {
	rc, err := m.remote.Download(ctx, uri)
	if errors.Is(err, ErrRemoteNotFound) {
		return storage.Media{}, errMediaNotFound
	} else if err != nil {
		m.log.WarnContext(ctx, "cannot fetch remote media", "uri", uri.String(), "error", err)
		return storage.Media{}, mxerr.ConnectionFailed.WithMessage("Cannot fetch the media from %s", uri.Homeserver)
	}
	defer rc.Body.Close()
	hash, size, err := m.store.Put(ctx, http.MaxBytesReader(nil, rc.Body, m.cfg.MaxUploadBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return storage.Media{}, mxerr.TooLarge.WithStatus(http.StatusBadGateway).
			WithMessage("The remote media is larger than this server's limit of %d bytes", m.cfg.MaxUploadBytes)
	} else if err != nil {
		return storage.Media{}, err
	}
	now := m.now().UnixMilli()
	med := storage.Media{
		ServerName: uri.Homeserver, MediaID: uri.FileID, ContentHash: hash, Size: size,
		ContentType: contentTypeOrDefault(rc.ContentType), UploadName: rc.FileName,
		CreatedTS: now, LastAccessTS: now, LegacyVisible: !m.cfg.FreezeLegacyUnauthenticated, Remote: true,
	}
	if err := m.db.InsertMedia(ctx, med); err != nil {
		// Another instance may have cached it meanwhile; its row is as good as ours.
		if cached, err2 := m.db.MediaByID(ctx, uri.Homeserver, uri.FileID); err2 == nil {
			m.dropBlob(ctx, hash)
			return cached, nil
		}
		m.dropBlob(ctx, hash)
		return storage.Media{}, err
	}
	return med, nil
}

// DeleteRemoteOlderThan empties the remote media cache of items last accessed before t; they
// are fetched again when next asked for.
func (m *Repository) DeleteRemoteOlderThan(ctx context.Context, t time.Time) ([]id.ContentURI, error) {
	return m.deleteWith(ctx, func(tx *storage.Tx) (storage.DeletedMedia, error) {
		return tx.DeleteRemoteMediaOlderThan(ctx, t.UnixMilli())
	})
}

// contentTypeOrDefault is the type to record for content whose sender named none.
func contentTypeOrDefault(contentType string) string {
	if contentType == "" {
		return "application/octet-stream"
	}
	return contentType
}
