package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"

	"causeway/homeserver/config"
	"causeway/homeserver/media/preview"
	"causeway/homeserver/media/thumbnail"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// maxPreviewURL bounds the url parameter.
const maxPreviewURL = 4096

// newPreviewer returns the URL previewer the configuration asks for, or nil when previews are off.
func newPreviewer(cfg config.URLPreview) *preview.Previewer {
	if !cfg.Enabled {
		return nil
	}
	return preview.New(preview.Config{
		AllowedCIDRs: config.Prefixes(cfg.AllowedCIDRs),
		BlockedCIDRs: config.Prefixes(cfg.BlockedCIDRs),
		MaxBytes:     cfg.MaxBytes,
		Timeout:      cfg.Timeout.Std(),
	})
}

// PreviewsEnabled reports whether URL previews are served.
func (m *Repository) PreviewsEnabled() bool { return m.previewer != nil }

// PreviewURL returns the OpenGraph properties of a web page as a JSON object, with og:image
// stored in the repository and named by its mxc:// URI (authed-content-repo.yaml,
// GET /preview_url). Previews are cached for media.url_preview.cache_lifetime; concurrent
// requests for one URL fetch it once.
func (m *Repository) PreviewURL(ctx context.Context, rawURL string) ([]byte, error) {
	if m.previewer == nil {
		return nil, mxerr.Unrecognized.WithMessage("URL previews are disabled on this server")
	}
	if len(rawURL) > maxPreviewURL {
		return nil, mxerr.InvalidParam.WithMessage("The URL is longer than %d bytes", maxPreviewURL)
	}
	cached, err := m.db.URLPreviewOf(ctx, rawURL, m.now().UnixMilli())
	if err == nil {
		return cached.Properties, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	v, err, _ := m.previews.Do(rawURL, func() (any, error) {
		return m.fetchPreview(context.WithoutCancel(ctx), rawURL)
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// fetchPreview fetches a page and its image, and caches the result.
func (m *Repository) fetchPreview(ctx context.Context, rawURL string) ([]byte, error) {
	p, err := m.previewer.Preview(ctx, rawURL)
	if err != nil {
		return nil, previewError(err)
	}
	defer p.Close()
	if p.ImageURL != "" {
		if err := m.storePreviewImage(ctx, p); err != nil {
			m.log.InfoContext(ctx, "URL preview without its image", "url", rawURL, "image", p.ImageURL, "error", err)
		}
	}
	props, err := json.Marshal(p.Properties)
	if err != nil {
		return nil, err
	}
	now := m.now()
	err = m.db.PutURLPreview(ctx, storage.URLPreview{URL: rawURL, Properties: props,
		FetchedTS: now.UnixMilli(), ExpiresTS: now.Add(m.cfg.URLPreview.CacheLifetime.Std()).UnixMilli()})
	if err != nil {
		return nil, err
	}
	return props, nil
}

// storePreviewImage downloads a preview's image (unless the URL was the image) into the
// repository, as media with no uploader, and records it in the preview.
func (m *Repository) storePreviewImage(ctx context.Context, p *preview.Preview) error {
	img := p.Image
	if img == nil {
		var err error
		if img, err = m.previewer.FetchImage(ctx, p.ImageURL); err != nil {
			return err
		}
		defer img.Close()
	}
	// Read the header as it streams by, for the image's dimensions.
	var head bytes.Buffer
	uri, err := m.Upload(ctx, Upload{
		ContentType: img.ContentType, FileName: path.Base(img.URL),
		Body: io.TeeReader(img, &limitedWriter{w: &head, n: 64 << 10}), Length: img.Length,
	})
	if err != nil {
		return err
	}
	p.SetImage(uri, img.ContentType, img.BytesRead())
	if _, ok := p.Properties["og:image:width"]; !ok {
		if _, w, h, err := thumbnail.Probe(&head, thumbnail.Limits{}); err == nil || errors.Is(err, thumbnail.ErrTooLarge) {
			p.Properties["og:image:width"], p.Properties["og:image:height"] = int64(w), int64(h)
		}
	}
	return nil
}

// previewError turns a fetch error into the answer the preview package documents.
func previewError(err error) error {
	switch {
	case errors.Is(err, preview.ErrInvalidURL):
		return mxerr.InvalidParam.WithMessage("The URL must be an absolute http or https URL")
	case errors.Is(err, preview.ErrForbiddenAddress):
		return mxerr.Forbidden.WithMessage("The URL's address is blocked for previews")
	case errors.Is(err, preview.ErrTooLarge):
		return mxerr.TooLarge.WithStatus(http.StatusBadGateway).WithMessage("The content is too large to preview")
	case errors.Is(err, context.Canceled):
		return err
	}
	return mxerr.Unknown.WithStatus(http.StatusBadGateway).WithMessage("Cannot fetch the URL")
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
