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
	return a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		req, err := a.auth.Authenticate(r)
		if err != nil {
			return err
		}
		ctx := context.WithValue(r.Context(), requesterKey{}, req)
		ctx = web.WithUser(ctx, req.UserID, req.DeviceID)
		return h(w, r.WithContext(ctx))
	})
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
	contentType := r.Header.Get("Content-Type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return Upload{
		Uploader:    requester(r).UserID,
		ContentType: contentType,
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
	uri, err := pathContentURI(r)
	if err != nil {
		return err
	}
	wait, err := timeoutParam(r)
	if err != nil {
		return err
	}
	fileName, err := web.PathParam(r, "fileName") // "" on the route without it
	if err != nil {
		return err
	}
	c, err := a.repo.Open(r.Context(), uri, Fetch{Legacy: legacy, Wait: wait})
	if err != nil {
		return err
	}
	defer c.Body.Close()
	if fileName == "" {
		fileName = c.UploadName
	}
	setDownloadHeaders(w.Header(), c.ContentType, fileName)
	// ServeContent answers Range and conditional requests from the seekable blob.
	http.ServeContent(w, r, "", time.UnixMilli(c.CreatedTS), c.Body)
	return nil
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
	if server == "" || mediaID == "" || len(mediaID) > 255 {
		return id.ContentURI{}, mxerr.InvalidParam.WithMessage("Invalid media ID")
	}
	return id.ContentURI{Homeserver: server, FileID: mediaID}, nil
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
