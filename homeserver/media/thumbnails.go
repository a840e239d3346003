package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

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

// makeThumbnail generates and stores the thumbnail of med in the size class of key.
func (m *Repository) makeThumbnail(ctx context.Context, med storage.Media, key storage.Thumbnail) (storage.Thumbnail, error) {
	if err := m.makeThumbnails(ctx, med, []storage.Thumbnail{key}); err != nil {
		return storage.Thumbnail{}, err
	}
	// A concurrent maker on another instance may have won; serve what is recorded.
	return m.db.ThumbnailOf(ctx, key)
}

// makeThumbnails generates and stores the thumbnails of med in the size classes of keys,
// decoding the image once. A class that the image fits in gets the original's own blob (the
// spec says to serve the original then), unless the original is a GIF, which may be animated,
// and the class is not.
func (m *Repository) makeThumbnails(ctx context.Context, med storage.Media, keys []storage.Thumbnail) error {
	release, err := m.thumbnailSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	data, err := m.readSource(ctx, med)
	if err != nil {
		return err
	}
	_, w, h, err := thumbnail.Probe(bytes.NewReader(data), thumbnail.Limits{})
	if err != nil {
		return thumbnailError(err)
	}
	now := m.now().UnixMilli()
	var made []storage.Thumbnail
	var stills, animated []storage.Thumbnail
	for _, key := range keys {
		t := key
		t.CreatedTS = now
		switch {
		case w <= key.Width && h <= key.Height && (key.Animated || !isGIF(med.ContentType)):
			t.ContentHash, t.ContentType, t.Size = med.ContentHash, med.ContentType, med.Size
			made = append(made, t)
		case key.Animated:
			animated = append(animated, t)
		default:
			stills = append(stills, t)
		}
	}
	generated, err := m.generate(ctx, data, med.ContentType, stills, animated)
	if err != nil {
		return err
	}
	for _, t := range append(made, generated...) {
		if _, err := m.db.InsertThumbnail(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// generate makes the thumbnails of stills (from one decoding) and of animated, puts their bytes
// in the store, and returns them with their hash, type and size filled in.
func (m *Repository) generate(ctx context.Context, data []byte, contentType string, stills, animated []storage.Thumbnail) ([]storage.Thumbnail, error) {
	var outs []thumbnail.Output
	if len(stills) > 0 {
		specs := make([]thumbnail.Spec, len(stills))
		for i, t := range stills {
			specs[i] = thumbnail.Spec{Width: t.Width, Height: t.Height, Method: thumbnail.Method(t.Method)}
		}
		var err error
		if outs, err = thumbnail.GenerateStills(data, contentType, specs, thumbnail.Limits{}); err != nil {
			return nil, thumbnailError(err)
		}
	}
	for _, t := range animated {
		spec := thumbnail.Spec{Width: t.Width, Height: t.Height, Method: thumbnail.Method(t.Method), Animated: true}
		out, outType, err := thumbnail.Generate(data, contentType, spec, thumbnail.Limits{})
		if err != nil {
			return nil, thumbnailError(err)
		}
		outs = append(outs, thumbnail.Output{Data: out, ContentType: outType})
	}
	all := append(slices.Clip(stills), animated...)
	for i := range all {
		hash, size, err := m.store.Put(ctx, bytes.NewReader(outs[i].Data))
		if err != nil {
			return nil, err
		}
		all[i].ContentHash, all[i].Size, all[i].ContentType = hash, size, outs[i].ContentType
	}
	return all, nil
}

// oneOffThumbnail makes a thumbnail of exactly spec without storing it.
func (m *Repository) oneOffThumbnail(ctx context.Context, med storage.Media, spec thumbnail.Spec) (*Content, error) {
	release, err := m.thumbnailSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
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

// thumbnailSlot waits for one of the slots that bound how many images are decoded at once
// (each may take over a hundred megabytes) and returns its release.
func (m *Repository) thumbnailSlot(ctx context.Context) (func(), error) {
	select {
	case m.thumbSlots <- struct{}{}:
		return func() { <-m.thumbSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	var keys []storage.Thumbnail
	for _, class := range m.sizeClasses() {
		keys = append(keys, storage.Thumbnail{ServerName: med.ServerName, MediaID: med.MediaID,
			Width: class.Width, Height: class.Height, Method: string(class.Method)})
	}
	if err := m.makeThumbnails(ctx, med, keys); err != nil {
		m.log.InfoContext(ctx, "no thumbnails for upload", "media_id", med.MediaID, "error", err)
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
