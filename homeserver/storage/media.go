package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Media is one mxc:// URI of the media repository. ContentHash is "" while an asynchronous
// upload is pending.
type Media struct {
	ServerName       string
	MediaID          string
	ContentHash      string
	Size             int64
	ContentType      string
	UploadName       string
	Uploader         id.UserID
	CreatedTS        int64
	LastAccessTS     int64
	Quarantined      bool
	PendingExpiresTS int64 // 0 once the content is uploaded
	LegacyVisible    bool
	Remote           bool // a cached copy of another server's media
}

// Pending reports whether m was created asynchronously and still awaits its content.
func (m Media) Pending() bool { return m.ContentHash == "" }

// MediaReference records that an event references a media item.
type MediaReference struct {
	ServerName string
	MediaID    string
	RoomID     id.RoomID
	EventID    id.EventID
}

const mediaColumns = `server_name, media_id, content_hash, size, content_type, upload_name, uploader,
	created_ts, last_access_ts, quarantined, pending_expires_ts, legacy_visible, remote`

const (
	insertMediaContent = `INSERT INTO media_content (content_hash, size, created_ts) VALUES ($1, $2, $3)
		ON CONFLICT (content_hash) DO NOTHING`
	insertMedia = `INSERT INTO media (` + mediaColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	selectMedia          = `SELECT ` + mediaColumns + ` FROM media WHERE server_name = $1 AND media_id = $2`
	completePendingMedia = `UPDATE media SET content_hash = $3, size = $4, content_type = $5, upload_name = $6,
		pending_expires_ts = 0, last_access_ts = $7
		WHERE server_name = $1 AND media_id = $2 AND content_hash = '' AND pending_expires_ts > $7`
	// Touching at most once a minute keeps downloads from turning into a write each.
	touchMedia = `UPDATE media SET last_access_ts = $3
		WHERE server_name = $1 AND media_id = $2 AND last_access_ts < $4`
	selectMediaUsage      = `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM media WHERE uploader = $1 AND content_hash <> ''`
	countPendingMedia     = `SELECT COUNT(*) FROM media WHERE uploader = $1 AND content_hash = '' AND pending_expires_ts > $2`
	quarantineMedia       = `UPDATE media SET quarantined = $3 WHERE server_name = $1 AND media_id = $2`
	quarantineMediaByUser = `UPDATE media SET quarantined = $2 WHERE uploader = $1`
	quarantineMediaInRoom = `UPDATE media SET quarantined = $2 WHERE EXISTS (SELECT 1 FROM media_references r
		WHERE r.server_name = media.server_name AND r.media_id = media.media_id AND r.room_id = $1)`
	selectMediaKeysByID       = `SELECT server_name, media_id, content_hash FROM media WHERE server_name = $1 AND media_id = $2`
	selectMediaKeysByUser     = `SELECT server_name, media_id, content_hash FROM media WHERE uploader = $1`
	selectMediaKeysOlderThan  = `SELECT server_name, media_id, content_hash FROM media WHERE last_access_ts < $1 AND content_hash <> '' AND NOT remote`
	selectRemoteKeysOlderThan = `SELECT server_name, media_id, content_hash FROM media WHERE remote AND last_access_ts < $1`
	selectMediaKeysExpired    = `SELECT server_name, media_id, content_hash FROM media WHERE content_hash = '' AND pending_expires_ts <= $1`
	deleteMedia               = `DELETE FROM media WHERE server_name = $1 AND media_id = $2`
	deleteMediaReferences     = `DELETE FROM media_references WHERE server_name = $1 AND media_id = $2`
	selectThumbnailHashes     = `SELECT content_hash FROM media_thumbnails WHERE server_name = $1 AND media_id = $2`
	deleteThumbnails          = `DELETE FROM media_thumbnails WHERE server_name = $1 AND media_id = $2`
	deleteUnreferencedContent = `DELETE FROM media_content WHERE content_hash = $1
		AND NOT EXISTS (SELECT 1 FROM media WHERE content_hash = $1)
		AND NOT EXISTS (SELECT 1 FROM media_thumbnails WHERE content_hash = $1)`
	insertMediaReference = `INSERT INTO media_references (server_name, media_id, room_id, event_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`
	selectMediaContentExists = `SELECT COUNT(*) FROM media_content WHERE content_hash = $1`
)

// InsertMedia records a new media item and, for uploaded content, its blob (a blob already
// known is shared). It returns ErrConflict if the media ID is taken.
func (c conn) InsertMedia(ctx context.Context, m Media) error {
	if m.ContentHash != "" {
		if _, err := c.q.Exec(ctx, insertMediaContent, m.ContentHash, m.Size, m.CreatedTS); err != nil {
			return fmt.Errorf("insert media content: %w", err)
		}
	}
	_, err := c.q.Exec(ctx, insertMedia, m.ServerName, m.MediaID, m.ContentHash, m.Size, m.ContentType, m.UploadName,
		m.Uploader, m.CreatedTS, m.LastAccessTS, m.Quarantined, m.PendingExpiresTS, m.LegacyVisible, m.Remote)
	if err != nil {
		return fmt.Errorf("insert media %s: %w", m.MediaID, err)
	}
	return nil
}

// MediaByID returns one media item, or ErrNotFound.
func (c conn) MediaByID(ctx context.Context, serverName, mediaID string) (Media, error) {
	var m Media
	err := c.q.QueryRow(ctx, selectMedia, serverName, mediaID).Scan(&m.ServerName, &m.MediaID, &m.ContentHash, &m.Size,
		&m.ContentType, &m.UploadName, &m.Uploader, &m.CreatedTS, &m.LastAccessTS, &m.Quarantined, &m.PendingExpiresTS, &m.LegacyVisible, &m.Remote)
	if err != nil {
		return Media{}, fmt.Errorf("media %s/%s: %w", serverName, mediaID, err)
	}
	return m, nil
}

// CompletePendingMedia gives a pending media item its content, and reports whether it did: it
// does not if the item has content already or expired before nowTS.
func (c conn) CompletePendingMedia(ctx context.Context, m Media, nowTS int64) (bool, error) {
	if _, err := c.q.Exec(ctx, insertMediaContent, m.ContentHash, m.Size, nowTS); err != nil {
		return false, fmt.Errorf("insert media content: %w", err)
	}
	n, err := c.q.Exec(ctx, completePendingMedia, m.ServerName, m.MediaID, m.ContentHash, m.Size, m.ContentType, m.UploadName, nowTS)
	if err != nil {
		return false, fmt.Errorf("complete media %s: %w", m.MediaID, err)
	}
	return n > 0, nil
}

// TouchMedia records an access at ts, unless one was recorded in the minute before.
func (c conn) TouchMedia(ctx context.Context, serverName, mediaID string, ts int64) error {
	if _, err := c.q.Exec(ctx, touchMedia, serverName, mediaID, ts, ts-60_000); err != nil {
		return fmt.Errorf("touch media %s: %w", mediaID, err)
	}
	return nil
}

// MediaUsage returns how many media items a user uploaded and their total size in bytes.
// Identical content uploaded twice counts twice: the quota is the user's, not the disk's.
func (c conn) MediaUsage(ctx context.Context, userID id.UserID) (count, bytes int64, err error) {
	if err := c.q.QueryRow(ctx, selectMediaUsage, userID).Scan(&count, &bytes); err != nil {
		return 0, 0, fmt.Errorf("media usage of %s: %w", userID, err)
	}
	return count, bytes, nil
}

// CountPendingMedia counts a user's pending media IDs that have not expired at nowTS.
func (c conn) CountPendingMedia(ctx context.Context, userID id.UserID, nowTS int64) (int64, error) {
	var n int64
	if err := c.q.QueryRow(ctx, countPendingMedia, userID, nowTS).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending media of %s: %w", userID, err)
	}
	return n, nil
}

// QuarantineMedia sets or clears one media item's quarantine; ErrNotFound if there is none.
func (c conn) QuarantineMedia(ctx context.Context, serverName, mediaID string, quarantined bool) error {
	n, err := c.q.Exec(ctx, quarantineMedia, serverName, mediaID, quarantined)
	if err != nil {
		return fmt.Errorf("quarantine media %s: %w", mediaID, err)
	}
	if n == 0 {
		return fmt.Errorf("quarantine media %s: %w", mediaID, ErrNotFound)
	}
	return nil
}

// QuarantineMediaByUser sets or clears the quarantine of everything a user uploaded and
// returns how many items it changed.
func (c conn) QuarantineMediaByUser(ctx context.Context, userID id.UserID, quarantined bool) (int64, error) {
	n, err := c.q.Exec(ctx, quarantineMediaByUser, userID, quarantined)
	if err != nil {
		return 0, fmt.Errorf("quarantine media of %s: %w", userID, err)
	}
	return n, nil
}

// QuarantineMediaInRoom sets or clears the quarantine of every media item an event of the room
// references (media_references) and returns how many items it changed.
func (c conn) QuarantineMediaInRoom(ctx context.Context, roomID id.RoomID, quarantined bool) (int64, error) {
	n, err := c.q.Exec(ctx, quarantineMediaInRoom, roomID, quarantined)
	if err != nil {
		return 0, fmt.Errorf("quarantine media in %s: %w", roomID, err)
	}
	return n, nil
}

// InsertMediaReference records that an event references a media item; recording it twice is harmless.
func (c conn) InsertMediaReference(ctx context.Context, ref MediaReference) error {
	if _, err := c.q.Exec(ctx, insertMediaReference, ref.ServerName, ref.MediaID, ref.RoomID, ref.EventID); err != nil {
		return fmt.Errorf("insert media reference: %w", err)
	}
	return nil
}

// MediaContentExists reports whether a blob is recorded.
func (c conn) MediaContentExists(ctx context.Context, hash string) (bool, error) {
	var n int64
	if err := c.q.QueryRow(ctx, selectMediaContentExists, hash).Scan(&n); err != nil {
		return false, fmt.Errorf("media content %s: %w", hash, err)
	}
	return n > 0, nil
}

// DeletedMedia is what a deletion removed: the media items, and the blobs no longer referenced
// by any item, which the caller removes from the blob store after the transaction commits.
type DeletedMedia struct {
	Media          []id.ContentURI
	OrphanedHashes []string
}

// DeleteMediaByID deletes one media item (none if there was none).
func (tx *Tx) DeleteMediaByID(ctx context.Context, serverName, mediaID string) (DeletedMedia, error) {
	return tx.deleteMediaWhere(ctx, selectMediaKeysByID, serverName, mediaID)
}

// DeleteMediaByUser deletes everything a user uploaded, pending items included.
func (tx *Tx) DeleteMediaByUser(ctx context.Context, userID id.UserID) (DeletedMedia, error) {
	return tx.deleteMediaWhere(ctx, selectMediaKeysByUser, userID)
}

// DeleteMediaOlderThan deletes local uploaded media last accessed before ts.
func (tx *Tx) DeleteMediaOlderThan(ctx context.Context, ts int64) (DeletedMedia, error) {
	return tx.deleteMediaWhere(ctx, selectMediaKeysOlderThan, ts)
}

// DeleteRemoteMediaOlderThan deletes cached copies of remote media last accessed before ts.
func (tx *Tx) DeleteRemoteMediaOlderThan(ctx context.Context, ts int64) (DeletedMedia, error) {
	return tx.deleteMediaWhere(ctx, selectRemoteKeysOlderThan, ts)
}

// DeleteExpiredPendingMedia deletes pending media IDs whose upload window closed at or before nowTS.
func (tx *Tx) DeleteExpiredPendingMedia(ctx context.Context, nowTS int64) (DeletedMedia, error) {
	return tx.deleteMediaWhere(ctx, selectMediaKeysExpired, nowTS)
}

func (tx *Tx) deleteMediaWhere(ctx context.Context, query string, args ...any) (DeletedMedia, error) {
	type key struct{ server, mediaID, hash string }
	rows, err := tx.q.Query(ctx, query, args...)
	if err != nil {
		return DeletedMedia{}, fmt.Errorf("select media to delete: %w", err)
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.server, &k.mediaID, &k.hash); err != nil {
			rows.Close()
			return DeletedMedia{}, fmt.Errorf("scan media to delete: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return DeletedMedia{}, fmt.Errorf("select media to delete: %w", err)
	}
	var out DeletedMedia
	hashes := map[string]bool{} // blobs that may have lost their last reference
	for _, k := range keys {
		if _, err := tx.q.Exec(ctx, deleteMediaReferences, k.server, k.mediaID); err != nil {
			return DeletedMedia{}, fmt.Errorf("delete media references: %w", err)
		}
		thumbs, err := tx.deleteThumbnails(ctx, k.server, k.mediaID)
		if err != nil {
			return DeletedMedia{}, err
		}
		for _, h := range thumbs {
			hashes[h] = true
		}
		n, err := tx.q.Exec(ctx, deleteMedia, k.server, k.mediaID)
		if err != nil {
			return DeletedMedia{}, fmt.Errorf("delete media %s: %w", k.mediaID, err)
		}
		if n > 0 {
			out.Media = append(out.Media, id.ContentURI{Homeserver: k.server, FileID: k.mediaID})
		}
		if k.hash != "" {
			hashes[k.hash] = true
		}
	}
	out.OrphanedHashes, err = tx.forgetOrphans(ctx, hashes)
	if err != nil {
		return DeletedMedia{}, err
	}
	return out, nil
}

// DeleteThumbnailsOf deletes a media item's thumbnails, so that they are made again when asked
// for; the media item itself stays.
func (tx *Tx) DeleteThumbnailsOf(ctx context.Context, serverName, mediaID string) (DeletedMedia, error) {
	thumbs, err := tx.deleteThumbnails(ctx, serverName, mediaID)
	if err != nil {
		return DeletedMedia{}, err
	}
	hashes := map[string]bool{}
	for _, h := range thumbs {
		hashes[h] = true
	}
	orphans, err := tx.forgetOrphans(ctx, hashes)
	return DeletedMedia{OrphanedHashes: orphans}, err
}

// forgetOrphans deletes the media_content rows of the hashes that no media or thumbnail row
// names any more, and returns those hashes: their blobs can go.
func (tx *Tx) forgetOrphans(ctx context.Context, hashes map[string]bool) ([]string, error) {
	var orphans []string
	for h := range hashes {
		n, err := tx.q.Exec(ctx, deleteUnreferencedContent, h)
		if err != nil {
			return nil, fmt.Errorf("delete media content: %w", err)
		}
		if n > 0 {
			orphans = append(orphans, h)
		}
	}
	return orphans, nil
}

// deleteThumbnails deletes a media item's thumbnails and returns the hashes they named.
func (tx *Tx) deleteThumbnails(ctx context.Context, serverName, mediaID string) ([]string, error) {
	rows, err := tx.q.Query(ctx, selectThumbnailHashes, serverName, mediaID)
	if err != nil {
		return nil, fmt.Errorf("select thumbnails: %w", err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan thumbnail: %w", err)
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select thumbnails: %w", err)
	}
	if _, err := tx.q.Exec(ctx, deleteThumbnails, serverName, mediaID); err != nil {
		return nil, fmt.Errorf("delete thumbnails: %w", err)
	}
	return hashes, nil
}

// UserMediaUsage is what one user has uploaded.
type UserMediaUsage struct {
	UserID id.UserID
	Count  int64
	Bytes  int64
}

// MediaUsageOrder is how MediaUsageByUser sorts.
type MediaUsageOrder string

// The orders MediaUsageByUser knows.
const (
	OrderByUserID MediaUsageOrder = "user_id"
	OrderByCount  MediaUsageOrder = "media_count"
	OrderByBytes  MediaUsageOrder = "media_length"
)

// mediaUsageOrderSQL maps each order to its ORDER BY clause; ties go by user ID.
var mediaUsageOrderSQL = map[MediaUsageOrder]string{
	OrderByUserID: "uploader",
	OrderByCount:  "COUNT(*)",
	OrderByBytes:  "SUM(size)",
}

// MediaUsageByUser returns the uploaders of local media with their usage, sorted by order
// (descending if desc), skipping from and returning at most limit, and how many uploaders there
// are in all.
func (c conn) MediaUsageByUser(ctx context.Context, order MediaUsageOrder, desc bool, from, limit int) ([]UserMediaUsage, int64, error) {
	col, ok := mediaUsageOrderSQL[order]
	if !ok {
		return nil, 0, fmt.Errorf("media usage: unknown order %q", order)
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	query := `SELECT uploader, COUNT(*), SUM(size) FROM media WHERE uploader <> '' AND content_hash <> '' AND NOT remote
		GROUP BY uploader ORDER BY ` + col + ` ` + dir + `, uploader ` + dir + ` LIMIT $1 OFFSET $2`
	rows, err := c.q.Query(ctx, query, limit, from)
	if err != nil {
		return nil, 0, fmt.Errorf("media usage: %w", err)
	}
	defer rows.Close()
	var out []UserMediaUsage
	for rows.Next() {
		var u UserMediaUsage
		if err := rows.Scan(&u.UserID, &u.Count, &u.Bytes); err != nil {
			return nil, 0, fmt.Errorf("media usage: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("media usage: %w", err)
	}
	var total int64
	err = c.q.QueryRow(ctx, `SELECT COUNT(DISTINCT uploader) FROM media WHERE uploader <> '' AND content_hash <> '' AND NOT remote`).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("count uploaders: %w", err)
	}
	return out, total, nil
}
