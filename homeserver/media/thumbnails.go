package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/media/thumbnail"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// maxThumbnailSource bounds the bytes read into memory to make a thumbnail. The pixel limits
// (thumbnail.Limits) bound the decoded image; this bounds the encoded one.
const maxThumbnailSource = 64 << 20

var (
	errCannotThumbnail = mxerr.Unknown.WithStatus(http.StatusBadRequest).WithMessage("Cannot generate thumbnails for the requested content")
	errTooLargeToThumb = mxerr.TooLarge.WithMessage("Content is too large to thumbnail")
)

// sizeClasses returns the configured thumbnail sizes as specs.
func (m *Repository) sizeClasses() []thumbnail.Spec {
	specs := make([]thumbnail.Spec, len(m.cfg.ThumbnailSizes))
	for i, s := range m.cfg.ThumbnailSizes {
		specs[i] = thumbnail.Spec{Width: s.Width, Height: s.Height, Method: thumbnail.Method(s.Method)}
	}
	return specs
}

// Thumbnail returns a thumbnail of a media item that is at least the size asked for (or the
// whole image, when it is not that large), as the spec requires
// (content/client-server-api/modules/content_repo.md, "Thumbnails"). Requests are served from
// the configured size classes: the smallest class at least as large as asked, made once and
// then kept. A request larger than every class gets the original image, which is never smaller
// than a thumbnail of it; only when that would be animated and animation was not asked for is a
// thumbnail of the requested size made, and not kept.
func (m *Repository) Thumbnail(ctx context.Context, uri id.ContentURI, spec thumbnail.Spec, f Fetch) (*Content, error) {
	if err := spec.Validate(); err != nil {
		return nil, mxerr.InvalidParam.WithMessage("%s", err)
	}
	med, err := m.find(ctx, uri, f)
	if err != nil {
		return nil, err
	}
	if !thumbnail.Supported(med.ContentType) {
		return nil, errCannotThumbnail
	}
	if !isGIF(med.ContentType) {
		spec.Animated = false // only GIFs animate; the spec asks to behave as if false
	}
	class := thumbnail.Nearest(spec, m.sizeClasses())
	var c *Content
	switch {
	case class.Width >= spec.Width && class.Height >= spec.Height:
		class.Animated = spec.Animated
		c, err = m.thumbnailOf(ctx, med, class)
	case spec.Animated || !isGIF(med.ContentType):
		c, err = m.original(ctx, med)
	default:
		c, err = m.oneOffThumbnail(ctx, med, spec)
	}
	if err != nil {
		return nil, err
	}
	m.touch(ctx, med)
	return c, nil
}

// thumbnailOf returns the stored thumbnail of med in a size class, making it first if need be.
// Concurrent requests for a missing thumbnail make it once.
func (m *Repository) thumbnailOf(ctx context.Context, med storage.Media, class thumbnail.Spec) (*Content, error) {
	key := storage.Thumbnail{ServerName: med.ServerName, MediaID: med.MediaID,
		Width: class.Width, Height: class.Height, Method: string(class.Method), Animated: class.Animated}
	t, err := m.db.ThumbnailOf(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		var v any
		v, err, _ = m.thumbs.Do(fmt.Sprintf("%s/%s/%dx%d/%s/%t", med.ServerName, med.MediaID, class.Width, class.Height, class.Method, class.Animated),
			func() (any, error) { return m.makeThumbnail(context.WithoutCancel(ctx), med, key) })
		if err == nil {
			t = v.(storage.Thumbnail)
		}
	}
	if err != nil {
		return nil, err
	}
	body, err := m.store.Open(ctx, t.ContentHash)
	if err != nil {
		return nil, fmt.Errorf("thumbnail of %s: %w", med.MediaID, err)
	}
	return thumbnailContent(med, t.ContentType, body), nil
}

// makeThumbnail generates and stores the thumbnail of med in the size class of key. When the
// image is no larger than the class it stores the original's own blob as the thumbnail (the
// spec says to serve the original then), unless the original is an animated GIF and the class
// is not animated.
func (m *Repository) makeThumbnail(ctx context.Context, med storage.Media, key storage.Thumbnail) (storage.Thumbnail, error) {
	data, err := m.readSource(ctx, med)
	if err != nil {
		return storage.Thumbnail{}, err
	}
	_, w, h, err := thumbnail.Probe(bytes.NewReader(data), thumbnail.Limits{})
	if err != nil {
		return storage.Thumbnail{}, thumbnailError(err)
	}
	t := key
	t.CreatedTS = m.now().UnixMilli()
	if w <= key.Width && h <= key.Height && (key.Animated || !isGIF(med.ContentType)) {
		t.ContentHash, t.ContentType, t.Size = med.ContentHash, med.ContentType, med.Size
	} else {
		spec := thumbnail.Spec{Width: key.Width, Height: key.Height, Method: thumbnail.Method(key.Method), Animated: key.Animated}
		out, contentType, err := thumbnail.Generate(data, med.ContentType, spec, thumbnail.Limits{})
		if err != nil {
			return storage.Thumbnail{}, thumbnailError(err)
		}
		if t.ContentHash, t.Size, err = m.store.Put(ctx, bytes.NewReader(out)); err != nil {
			return storage.Thumbnail{}, err
		}
		t.ContentType = contentType
	}
	if _, err := m.db.InsertThumbnail(ctx, t); err != nil {
		return storage.Thumbnail{}, err
	}
	// A concurrent maker on another instance may have won; serve what is recorded.
	return m.db.ThumbnailOf(ctx, key)
}

// oneOffThumbnail makes a thumbnail of exactly spec without storing it.
func (m *Repository) oneOffThumbnail(ctx context.Context, med storage.Media, spec thumbnail.Spec) (*Content, error) {
	data, err := m.readSource(ctx, med)
	if err != nil {
		return nil, err
	}
	out, contentType, err := thumbnail.Generate(data, med.ContentType, spec, thumbnail.Limits{})
	if err != nil {
		return nil, thumbnailError(err)
	}
	return thumbnailContent(med, contentType, nopCloser{bytes.NewReader(out)}), nil
}

// original serves the image itself as its thumbnail.
func (m *Repository) original(ctx context.Context, med storage.Media) (*Content, error) {
	body, err := m.store.Open(ctx, med.ContentHash)
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", med.MediaID, err)
	}
	return thumbnailContent(med, med.ContentType, body), nil
}

// readSource reads an image whole, refusing one too large to thumbnail.
func (m *Repository) readSource(ctx context.Context, med storage.Media) ([]byte, error) {
	if med.Size > maxThumbnailSource {
		return nil, errTooLargeToThumb
	}
	body, err := m.store.Open(ctx, med.ContentHash)
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", med.MediaID, err)
	}
	defer body.Close()
	return io.ReadAll(io.LimitReader(body, maxThumbnailSource))
}

// pregenerate makes the configured thumbnails of a new upload, so that the first client to show
// it waits for nothing. Failures are logged: the upload stands, and thumbnails are made on
// demand later anyway.
func (m *Repository) pregenerate(ctx context.Context, med storage.Media) {
	if !thumbnail.Supported(med.ContentType) || med.Size > maxThumbnailSource {
		return
	}
	for _, class := range m.sizeClasses() {
		c, err := m.thumbnailOf(ctx, med, class)
		if err != nil {
			m.log.InfoContext(ctx, "no thumbnail for upload", "media_id", med.MediaID, "error", err)
			return // the same source fails the same way for every size
		}
		c.Body.Close()
	}
}

// thumbnailError turns a thumbnail library error into the spec's answer.
func thumbnailError(err error) error {
	switch {
	case errors.Is(err, thumbnail.ErrTooLarge):
		return errTooLargeToThumb
	case errors.Is(err, thumbnail.ErrUnsupported), errors.Is(err, thumbnail.ErrDecode):
		return errCannotThumbnail
	}
	return err
}

// thumbnailContent describes a thumbnail of med for serving.
func thumbnailContent(med storage.Media, contentType string, body io.ReadSeekCloser) *Content {
	med.ContentType = contentType
	med.UploadName = "thumbnail" + extensionOf(contentType)
	return &Content{Media: med, Body: body}
}

func isGIF(contentType string) bool {
	return mediaType(contentType) == "image/gif"
}

// extensionOf names the file extension of the image types thumbnails come in.
func extensionOf(contentType string) string {
	switch mediaType(contentType) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	}
	return ""
}

// nopCloser gives a bytes.Reader the Close of an io.ReadSeekCloser.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
