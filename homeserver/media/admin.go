package media

import (
	"context"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// Quarantine hides (or, with quarantined false, restores) one media item: downloads of it
// answer M_NOT_FOUND. Its bytes stay, for review.
func (m *Repository) Quarantine(ctx context.Context, uri id.ContentURI, quarantined bool) error {
	return m.db.QuarantineMedia(ctx, uri.Homeserver, uri.FileID, quarantined)
}

// QuarantineByUser quarantines everything a user uploaded and returns how many items changed.
func (m *Repository) QuarantineByUser(ctx context.Context, userID id.UserID, quarantined bool) (int64, error) {
	return m.db.QuarantineMediaByUser(ctx, userID, quarantined)
}

// QuarantineInRoom quarantines every media item that the room's events reference, as recorded
// in media_references, and returns how many items changed.
func (m *Repository) QuarantineInRoom(ctx context.Context, roomID id.RoomID, quarantined bool) (int64, error) {
	return m.db.QuarantineMediaInRoom(ctx, roomID, quarantined)
}

// Delete deletes one media item and, when no other item shares them, its bytes. Like every
// deletion here, it returns the media it deleted (none or this one).
func (m *Repository) Delete(ctx context.Context, uri id.ContentURI) ([]id.ContentURI, error) {
	return m.deleteWith(ctx, func(tx *storage.Tx) (storage.DeletedMedia, error) {
		return tx.DeleteMediaByID(ctx, uri.Homeserver, uri.FileID)
	})
}

// DeleteByUser deletes everything a user uploaded.
func (m *Repository) DeleteByUser(ctx context.Context, userID id.UserID) ([]id.ContentURI, error) {
	return m.deleteWith(ctx, func(tx *storage.Tx) (storage.DeletedMedia, error) {
		return tx.DeleteMediaByUser(ctx, userID)
	})
}

// DeleteOlderThan deletes uploaded media last downloaded (or uploaded) before t.
func (m *Repository) DeleteOlderThan(ctx context.Context, t time.Time) ([]id.ContentURI, error) {
	return m.deleteWith(ctx, func(tx *storage.Tx) (storage.DeletedMedia, error) {
		return tx.DeleteMediaOlderThan(ctx, t.UnixMilli())
	})
}

// DeleteExpiredPending deletes asynchronous media IDs that expired without content.
func (m *Repository) DeleteExpiredPending(ctx context.Context) ([]id.ContentURI, error) {
	return m.deleteWith(ctx, func(tx *storage.Tx) (storage.DeletedMedia, error) {
		return tx.DeleteExpiredPendingMedia(ctx, m.now().UnixMilli())
	})
}

// DeleteThumbnails deletes a media item's thumbnails, which are made again when next asked for
// (after media.thumbnail_sizes changed, say).
func (m *Repository) DeleteThumbnails(ctx context.Context, uri id.ContentURI) error {
	_, err := m.deleteWith(ctx, func(tx *storage.Tx) (storage.DeletedMedia, error) {
		return tx.DeleteThumbnailsOf(ctx, uri.Homeserver, uri.FileID)
	})
	return err
}

// Usage is what a user has uploaded.
type Usage struct {
	Count int64
	Bytes int64
}

// UsageByUser returns how many files a user has uploaded and their total size.
func (m *Repository) UsageByUser(ctx context.Context, userID id.UserID) (Usage, error) {
	n, bytes, err := m.db.MediaUsage(ctx, userID)
	return Usage{Count: n, Bytes: bytes}, err
}

// deleteWith deletes rows in one transaction, then the blobs that no row references any more.
func (m *Repository) deleteWith(ctx context.Context, del func(tx *storage.Tx) (storage.DeletedMedia, error)) ([]id.ContentURI, error) {
	var out storage.DeletedMedia
	err := m.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		out, err = del(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, h := range out.OrphanedHashes {
		if err := m.store.Delete(ctx, h); err != nil {
			return out.Media, err
		}
	}
	return out.Media, nil
}

// UsageOfUsers lists the users who uploaded media with their usage: see
// storage.MediaUsageByUser for the order and paging.
func (m *Repository) UsageOfUsers(ctx context.Context, order storage.MediaUsageOrder, desc bool, from, limit int) ([]storage.UserMediaUsage, int64, error) {
	return m.db.MediaUsageByUser(ctx, order, desc, from, limit)
}

// IsLocal reports whether uri names media uploaded to this server.
func (m *Repository) IsLocal(uri id.ContentURI) bool { return uri.Homeserver == m.serverName }
