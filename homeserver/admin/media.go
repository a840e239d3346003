package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
	"causeway/homeserver/web"
)

// maxUsageLimit bounds the page size of the media usage statistics.
const maxUsageLimit = 1000

// mediaRoutes are the media administration endpoints, at the paths of Synapse's admin API
// (docs/admin_api/media_admin_api.md and statistics.md in Synapse), so that its tools and
// scripts work unchanged.
func (a *API) mediaRoutes(r chi.Router) {
	r.Post("/_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}", a.admin(a.handleQuarantineMedia(true)))
	r.Post("/_synapse/admin/v1/media/unquarantine/{serverName}/{mediaId}", a.admin(a.handleQuarantineMedia(false)))
	r.Post("/_synapse/admin/v1/room/{roomId}/media/quarantine", a.admin(a.handleQuarantineRoomMedia))
	r.Post("/_synapse/admin/v1/user/{userId}/media/quarantine", a.admin(a.handleQuarantineUserMedia))
	r.Delete("/_synapse/admin/v1/media/{serverName}/{mediaId}", a.admin(a.handleDeleteMedia))
	r.Post("/_synapse/admin/v1/media/delete", a.admin(a.handleDeleteOldMedia))
	r.Post("/_synapse/admin/v1/media/{serverName}/delete", a.admin(a.handleDeleteOldMedia))
	r.Delete("/_synapse/admin/v1/users/{userId}/media", a.admin(a.handleDeleteUserMedia))
	r.Post("/_synapse/admin/v1/purge_media_cache", a.admin(a.handlePurgeMediaCache))
	r.Get("/_synapse/admin/v1/statistics/users/media", a.admin(a.handleMediaUsage))
}

// handleQuarantineMedia serves POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}
// and its unquarantine twin.
func (a *API) handleQuarantineMedia(quarantined bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		uri, err := pathMedia(r)
		if err != nil {
			return err
		}
		if err := a.media.Quarantine(r.Context(), uri, quarantined); err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, struct{}{})
	}
}

// handleQuarantineRoomMedia serves POST /_synapse/admin/v1/room/{roomId}/media/quarantine: every
// media item an event of the room references.
func (a *API) handleQuarantineRoomMedia(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	n, err := a.media.QuarantineInRoom(r.Context(), roomID, true)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]int64{"num_quarantined": n})
}

// handleQuarantineUserMedia serves POST /_synapse/admin/v1/user/{userId}/media/quarantine.
func (a *API) handleQuarantineUserMedia(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	n, err := a.media.QuarantineByUser(r.Context(), userID, true)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]int64{"num_quarantined": n})
}

// handleDeleteMedia serves DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}; only local
// media can be deleted (remote media leaves the cache with purge_media_cache).
func (a *API) handleDeleteMedia(w http.ResponseWriter, r *http.Request) error {
	uri, err := pathMedia(r)
	if err != nil {
		return err
	}
	if !a.media.IsLocal(uri) {
		return mxerr.InvalidParam.WithMessage("Can only delete local media")
	}
	deleted, err := a.media.Delete(r.Context(), uri)
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		return mxerr.NotFound.WithMessage("Unknown media")
	}
	return writeDeleted(w, deleted)
}

// handleDeleteOldMedia serves POST /_synapse/admin/v1/media/delete?before_ts=…: local media
// last accessed before the time.
func (a *API) handleDeleteOldMedia(w http.ResponseWriter, r *http.Request) error {
	if server := chi.URLParam(r, "serverName"); server != "" && !a.media.IsLocal(id.ContentURI{Homeserver: server}) {
		return mxerr.InvalidParam.WithMessage("Can only delete local media")
	}
	before, err := beforeTS(r)
	if err != nil {
		return err
	}
	deleted, err := a.media.DeleteOlderThan(r.Context(), before)
	if err != nil {
		return err
	}
	return writeDeleted(w, deleted)
}

// handleDeleteUserMedia serves DELETE /_synapse/admin/v1/users/{userId}/media.
func (a *API) handleDeleteUserMedia(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	deleted, err := a.media.DeleteByUser(r.Context(), userID)
	if err != nil {
		return err
	}
	return writeDeleted(w, deleted)
}

// handlePurgeMediaCache serves POST /_synapse/admin/v1/purge_media_cache?before_ts=…: cached
// remote media last accessed before the time.
func (a *API) handlePurgeMediaCache(w http.ResponseWriter, r *http.Request) error {
	before, err := beforeTS(r)
	if err != nil {
		return err
	}
	deleted, err := a.media.DeleteRemoteOlderThan(r.Context(), before)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]int{"deleted": len(deleted)})
}

// userMediaUsage is one row of the media statistics.
type userMediaUsage struct {
	UserID      id.UserID `json:"user_id"`
	DisplayName string    `json:"displayname"`
	MediaCount  int64     `json:"media_count"`
	MediaLength int64     `json:"media_length"`
}

// handleMediaUsage serves GET /_synapse/admin/v1/statistics/users/media: per user, how many
// files and bytes they uploaded. Query: from, limit, order_by (user_id, media_count,
// media_length) and dir (f or b).
func (a *API) handleMediaUsage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, err := intParam(q.Get("from"), 0, "from")
	if err != nil {
		return err
	}
	limit, err := intParam(q.Get("limit"), 100, "limit")
	if err != nil {
		return err
	}
	limit = min(limit, maxUsageLimit)
	order := storage.MediaUsageOrder(q.Get("order_by"))
	if order == "" {
		order = storage.OrderByUserID
	}
	if order != storage.OrderByUserID && order != storage.OrderByCount && order != storage.OrderByBytes {
		return mxerr.InvalidParam.WithMessage("order_by must be user_id, media_count or media_length")
	}
	dir := q.Get("dir")
	if dir != "" && dir != "f" && dir != "b" {
		return mxerr.InvalidParam.WithMessage("dir must be f or b")
	}
	rows, total, err := a.media.UsageOfUsers(r.Context(), order, dir == "b", from, limit)
	if err != nil {
		return err
	}
	users := make([]userMediaUsage, 0, len(rows))
	for _, u := range rows {
		row := userMediaUsage{UserID: u.UserID, MediaCount: u.Count, MediaLength: u.Bytes}
		if p, err := a.accounts.Profile(r.Context(), u.UserID); err == nil {
			row.DisplayName = p.DisplayName
		}
		users = append(users, row)
	}
	resp := map[string]any{"users": users, "total": total}
	if int64(from+len(users)) < total {
		resp["next_token"] = from + len(users)
	}
	return web.WriteJSON(w, http.StatusOK, resp)
}

// writeDeleted answers a deletion as Synapse does: the deleted media IDs and their number.
func writeDeleted(w http.ResponseWriter, deleted []id.ContentURI) error {
	ids := make([]string, len(deleted))
	for i, uri := range deleted {
		ids[i] = uri.FileID
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"deleted_media": ids, "total": len(ids)})
}

// pathMedia reads {serverName} and {mediaId}.
func pathMedia(r *http.Request) (id.ContentURI, error) {
	server, err := web.PathParam(r, "serverName")
	if err != nil {
		return id.ContentURI{}, err
	}
	mediaID, err := web.PathParam(r, "mediaId")
	if err != nil {
		return id.ContentURI{}, err
	}
	return id.ContentURI{Homeserver: server, FileID: mediaID}, nil
}

// beforeTS reads the required before_ts parameter, in milliseconds since the epoch.
func beforeTS(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("before_ts")
	if v == "" {
		return time.Time{}, mxerr.MissingParam.WithMessage("before_ts is required")
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, mxerr.InvalidParam.WithMessage("before_ts must be a timestamp in milliseconds")
	}
	return time.UnixMilli(ms), nil
}

// intParam reads a non-negative integer query parameter, def when absent.
func intParam(v string, def int, name string) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, mxerr.InvalidParam.WithMessage("%s must be a non-negative integer", name)
	}
	return n, nil
}
