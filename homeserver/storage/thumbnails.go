package storage

import (
	"context"
	"fmt"
)

// Thumbnail is one stored thumbnail of a media item, in the size class Width x Height, Method.
type Thumbnail struct {
	ServerName  string
	MediaID     string
	Width       int
	Height      int
	Method      string
	Animated    bool
	ContentHash string
	ContentType string
	Size        int64
	CreatedTS   int64
}

const (
	selectThumbnail = `SELECT content_hash, content_type, size, created_ts FROM media_thumbnails
		WHERE server_name = $1 AND media_id = $2 AND width = $3 AND height = $4 AND method = $5 AND animated = $6`
	insertThumbnail = `INSERT INTO media_thumbnails (server_name, media_id, width, height, method, animated,
		content_hash, content_type, size, created_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`
	countThumbnails = `SELECT COUNT(*) FROM media_thumbnails WHERE server_name = $1 AND media_id = $2`
)

// ThumbnailOf returns the stored thumbnail of a media item in the size class of t (its
// server, media ID, width, height, method and animated flag), or ErrNotFound.
func (c conn) ThumbnailOf(ctx context.Context, t Thumbnail) (Thumbnail, error) {
	err := c.q.QueryRow(ctx, selectThumbnail, t.ServerName, t.MediaID, t.Width, t.Height, t.Method, t.Animated).
		Scan(&t.ContentHash, &t.ContentType, &t.Size, &t.CreatedTS)
	if err != nil {
		return Thumbnail{}, fmt.Errorf("thumbnail %dx%d %s of %s: %w", t.Width, t.Height, t.Method, t.MediaID, err)
	}
	return t, nil
}

// InsertThumbnail records a thumbnail and its blob. When the size class already has one (a
// concurrent request made it), the existing row stays and InsertThumbnail reports false.
func (c conn) InsertThumbnail(ctx context.Context, t Thumbnail) (bool, error) {
	if _, err := c.q.Exec(ctx, insertMediaContent, t.ContentHash, t.Size, t.CreatedTS); err != nil {
		return false, fmt.Errorf("insert thumbnail content: %w", err)
	}
	n, err := c.q.Exec(ctx, insertThumbnail, t.ServerName, t.MediaID, t.Width, t.Height, t.Method, t.Animated,
		t.ContentHash, t.ContentType, t.Size, t.CreatedTS)
	if err != nil {
		return false, fmt.Errorf("insert thumbnail of %s: %w", t.MediaID, err)
	}
	return n > 0, nil
}

// CountThumbnails returns how many thumbnails a media item has.
func (c conn) CountThumbnails(ctx context.Context, serverName, mediaID string) (int, error) {
	var n int
	if err := c.q.QueryRow(ctx, countThumbnails, serverName, mediaID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count thumbnails of %s: %w", mediaID, err)
	}
	return n, nil
}
