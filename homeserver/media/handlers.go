package media

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/media/thumbnail"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
	"causeway/homeserver/web"
)

const (
	// defaultWait and maxWait bound timeout_ms for downloads of asynchronous uploads (the spec's
	// default is 20 seconds).
	defaultWait = 20 * time.Second
	maxWait     = 60 * time.Second
)

type requesterKey struct{}

func requester(r *http.Request) accounts.Requester {
	return r.Context().Value(requesterKey{}).(accounts.Requester)
}

// wrap adapts a handler; errors become Matrix error responses in one place.
func (a *API) wrap(h web.HandlerFunc) http.HandlerFunc {
	return web.Wrap(a.log, h, mapErrors)
}

// authed requires an authenticated requester before running h.
func (a *API) authed(h web.HandlerFunc) http.HandlerFunc {
	return a.wrap(a.authenticated(h, false))
}

// limited is authed with the requester's rate limit applied: for uploads and the endpoints
// that cost the server work (thumbnails, previews). Downloads are not limited, so that players
// may seek with as many range requests as they like.
func (a *API) limited(h web.HandlerFunc) http.HandlerFunc {
	return a.wrap(a.authenticated(h, true))
}

func (a *API) authenticated(h web.HandlerFunc, rateLimited bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := a.auth.Authenticate(r)
		if err != nil {
			return err
		}
		if rateLimited {
			if err := a.auth.CheckRateLimit(r, req); err != nil {
				return err
			}
		}
		ctx := context.WithValue(r.Context(), requesterKey{}, req)
		ctx = web.WithUser(ctx, req.UserID, req.DeviceID)
		return h(w, r.WithContext(ctx))
	}
}

// mapErrors answers for sentinels that reach a handler unconverted.
func mapErrors(err error) (mautrix.RespError, bool) {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, ErrBlobNotFound):
		return mxerr.NotFound.WithMessage("Media not found"), true
	}
	return mautrix.RespError{}, false
}

// handleGetConfig serves GET /_matrix/client/v1/media/config (authed-content-repo.yaml) and its
// deprecated twin GET /_matrix/media/v3/config (content-repo.yaml).
func (a *API) handleGetConfig(w http.ResponseWriter, r *http.Request) error {
	return web.WriteJSON(w, http.StatusOK, map[string]int64{"m.upload.size": a.repo.MaxUploadBytes()})
}

// handleUpload serves POST /_matrix/media/v3/upload (content-repo.yaml).
func (a *API) handleUpload(w http.ResponseWriter, r *http.Request) error {
	up, err := a.readUpload(w, r)
	if err != nil {
		return err
	}
	uri, err := a.repo.Upload(r.Context(), up)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"content_uri": uri.String()})
}

// handleCreate serves POST /_matrix/media/v1/create (content-repo.yaml).
func (a *API) handleCreate(w http.ResponseWriter, r *http.Request) error {
	uri, expires, err := a.repo.Create(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"content_uri": uri.String(), "unused_expires_at": expires.UnixMilli()})
}

// handleUploadPending serves PUT /_matrix/media/v3/upload/{serverName}/{mediaId} (content-repo.yaml).
func (a *API) handleUploadPending(w http.ResponseWriter, r *http.Request) error {
	uri, err := pathContentURI(r)
	if err != nil {
		return err
	}
	up, err := a.readUpload(w, r)
	if err != nil {
		return err
	}
	if err := a.repo.UploadPending(r.Context(), uri, up); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct{}{})
}

// readUpload describes the request body as an upload, refusing at once a body announced as too
// large and limiting the rest while it streams.
func (a *API) readUpload(w http.ResponseWriter, r *http.Request) (Upload, error) {
	limit := a.repo.MaxUploadBytes()
	if r.ContentLength > limit {
		return Upload{}, mxerr.TooLarge.WithMessage("The file is larger than the limit of %d bytes", limit)
	}
	return Upload{
		Uploader:    requester(r).UserID,
		ContentType: contentTypeOrDefault(r.Header.Get("Content-Type")),
		FileName:    r.URL.Query().Get("filename"),
		Body:        http.MaxBytesReader(w, r.Body, limit),
		Length:      r.ContentLength,
	}, nil
}

// handleDownload serves GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
// (authed-content-repo.yaml).
func (a *API) handleDownload(w http.ResponseWriter, r *http.Request) error {
	return a.serveDownload(w, r, false)
}

// handleLegacyDownload serves the unauthenticated GET /_matrix/media/v3/download/{serverName}/
// {mediaId}[/{fileName}] (content-repo.yaml), which is frozen: it serves only media uploaded
// while media.freeze_legacy_unauthenticated was off.
func (a *API) handleLegacyDownload(w http.ResponseWriter, r *http.Request) error {
	return a.serveDownload(w, r, true)
}

func (a *API) serveDownload(w http.ResponseWriter, r *http.Request, legacy bool) error {
	uri, f, err := downloadParams(r, legacy)
	if err != nil {
		return err
	}
	fileName, err := web.PathParam(r, "fileName") // "" on the route without it
	if err != nil {
		return err
	}
	c, err := a.repo.Open(r.Context(), uri, f)
	if err != nil {
		return err
	}
	if fileName != "" {
		c.UploadName = fileName
	}
	serveContent(w, r, c)
	return nil
}

// handlePreviewURL serves GET /_matrix/client/v1/media/preview_url and its deprecated twin
// GET /_matrix/media/v3/preview_url (authed-content-repo.yaml, content-repo.yaml). The ts
// parameter is accepted and ignored: the cache holds one version of each page.
func (a *API) handlePreviewURL(w http.ResponseWriter, r *http.Request) error {
	rawURL := r.URL.Query().Get("url")
	if rawURL == "" {
		return mxerr.MissingParam.WithMessage("The url parameter is required")
	}
	props, err := a.repo.PreviewURL(r.Context(), rawURL)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(props)
	return err
}

// handleThumbnail serves GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
// (authed-content-repo.yaml).
func (a *API) handleThumbnail(w http.ResponseWriter, r *http.Request) error {
	return a.serveThumbnail(w, r, false)
}

// handleLegacyThumbnail serves the unauthenticated GET /_matrix/media/v3/thumbnail/{serverName}/
// {mediaId} (content-repo.yaml), frozen like the legacy downloads.
func (a *API) handleLegacyThumbnail(w http.ResponseWriter, r *http.Request) error {
	return a.serveThumbnail(w, r, true)
}

func (a *API) serveThumbnail(w http.ResponseWriter, r *http.Request, legacy bool) error {
	uri, f, err := downloadParams(r, legacy)
	if err != nil {
		return err
	}
	spec, err := thumbnailParams(r)
	if err != nil {
		return err
	}
	c, err := a.repo.Thumbnail(r.Context(), uri, spec, f)
	if err != nil {
		return err
	}
	serveContent(w, r, c)
	return nil
}

// serveContent writes c with the safe download headers; ServeContent answers Range, HEAD and
// conditional requests from the seekable body.
func serveContent(w http.ResponseWriter, r *http.Request, c *Content) {
	defer c.Body.Close()
	setDownloadHeaders(w.Header(), c.ContentType, c.UploadName)
	http.ServeContent(w, r, "", time.UnixMilli(c.CreatedTS), c.Body)
}

// downloadParams reads what every download and thumbnail request names: the media, timeout_ms,
// and on the legacy endpoints allow_remote.
func downloadParams(r *http.Request, legacy bool) (id.ContentURI, Fetch, error) {
	uri, err := pathContentURI(r)
	if err != nil {
		return id.ContentURI{}, Fetch{}, err
	}
	wait, err := timeoutParam(r)
	if err != nil {
		return id.ContentURI{}, Fetch{}, err
	}
	f := Fetch{Legacy: legacy, Wait: wait}
	if legacy {
		allowRemote, err := boolParam(r, "allow_remote", true)
		if err != nil {
			return id.ContentURI{}, Fetch{}, err
		}
		f.LocalOnly = !allowRemote
	}
	return uri, f, nil
}

// thumbnailParams reads width, height, method and animated.
func thumbnailParams(r *http.Request) (thumbnail.Spec, error) {
	q := r.URL.Query()
	var spec thumbnail.Spec
	var err error
	if spec.Width, err = strconv.Atoi(q.Get("width")); err != nil {
		return spec, mxerr.InvalidParam.WithMessage("width must be an integer")
	}
	if spec.Height, err = strconv.Atoi(q.Get("height")); err != nil {
		return spec, mxerr.InvalidParam.WithMessage("height must be an integer")
	}
	spec.Method = thumbnail.Method(q.Get("method"))
	if spec.Method == "" {
		spec.Method = thumbnail.Scale
	}
	if spec.Animated, err = boolParam(r, "animated", false); err != nil {
		return spec, err
	}
	if err := spec.Validate(); err != nil {
		return spec, mxerr.InvalidParam.WithMessage("%s", err)
	}
	return spec, nil
}

// boolParam reads a query parameter that is "true" or "false", or absent (def).
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	switch r.URL.Query().Get(name) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, mxerr.InvalidParam.WithMessage("%s must be true or false", name)
}

// pathContentURI reads {serverName} and {mediaId}.
func pathContentURI(r *http.Request) (id.ContentURI, error) {
	server, err := web.PathParam(r, "serverName")
	if err != nil {
		return id.ContentURI{}, err
	}
	mediaID, err := web.PathParam(r, "mediaId")
	if err != nil {
		return id.ContentURI{}, err
	}
	if !id.ValidateServerName(server) || !validMediaID(mediaID) {
		return id.ContentURI{}, mxerr.InvalidParam.WithMessage("Invalid media ID")
	}
	return id.ContentURI{Homeserver: server, FileID: mediaID}, nil
}

// validMediaID allows only what the spec lets a media ID hold: A-Z, a-z, 0-9, _ and -
// (content_repo.md, "Security considerations").
func validMediaID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// timeoutParam reads timeout_ms: how long to wait for an asynchronous upload.
func timeoutParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("timeout_ms")
	if v == "" {
		return defaultWait, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, mxerr.InvalidParam.WithMessage("timeout_ms must be a non-negative integer")
	}
	return min(time.Duration(ms)*time.Millisecond, maxWait), nil
}
