package storage

import (
	"context"
	"fmt"
)

// URLPreview is a cached URL preview.
type URLPreview struct {
	URL        string
	Properties []byte // a JSON object
	FetchedTS  int64
	ExpiresTS  int64
}

const (
	selectURLPreview = `SELECT properties, fetched_ts, expires_ts FROM url_previews WHERE url = $1 AND expires_ts > $2`
	upsertURLPreview = `INSERT INTO url_previews (url, properties, fetched_ts, expires_ts) VALUES ($1, $2, $3, $4)
		ON CONFLICT (url) DO UPDATE SET properties = excluded.properties, fetched_ts = excluded.fetched_ts,
		expires_ts = excluded.expires_ts`
	deleteExpiredURLPreviews = `DELETE FROM url_previews WHERE expires_ts <= $1`
)

// URLPreviewOf returns the cached preview of url that has not expired at nowTS, or ErrNotFound.
func (c conn) URLPreviewOf(ctx context.Context, url string, nowTS int64) (URLPreview, error) {
	p := URLPreview{URL: url}
	if err := c.q.QueryRow(ctx, selectURLPreview, url, nowTS).Scan(&p.Properties, &p.FetchedTS, &p.ExpiresTS); err != nil {
		return URLPreview{}, fmt.Errorf("URL preview: %w", err)
	}
	return p, nil
}

// PutURLPreview caches a preview, replacing an older one of the same URL.
func (c conn) PutURLPreview(ctx context.Context, p URLPreview) error {
	if _, err := c.q.Exec(ctx, upsertURLPreview, p.URL, string(p.Properties), p.FetchedTS, p.ExpiresTS); err != nil {
		return fmt.Errorf("cache URL preview: %w", err)
	}
	return nil
}

// DeleteExpiredURLPreviews forgets the previews expired at nowTS and returns how many.
func (c conn) DeleteExpiredURLPreviews(ctx context.Context, nowTS int64) (int64, error) {
	n, err := c.q.Exec(ctx, deleteExpiredURLPreviews, nowTS)
	if err != nil {
		return 0, fmt.Errorf("delete expired URL previews: %w", err)
	}
	return n, nil
}
