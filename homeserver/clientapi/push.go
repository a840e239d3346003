package clientapi

import (
	"net/http"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/push"
	"causeway/homeserver/syncapi"
)

// handleNotifications serves GET /_matrix/client/v3/notifications
// (data/api/client-server/notifications.yaml).
func (a *API) handleNotifications(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	only := q.Get("only")
	if only != "" && only != "highlight" {
		return mxerr.InvalidParam.WithMessage("only may be highlight")
	}
	req := requester(r)
	resp, err := a.sync.Notifications(r.Context(), syncapi.NotificationsRequest{
		UserID: req.UserID, DeviceID: req.DeviceID, From: q.Get("from"), Limit: limit, OnlyHighlight: only == "highlight",
	})
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// handleGetPushers serves GET /_matrix/client/v3/pushers (data/api/client-server/pusher.yaml).
func (a *API) handleGetPushers(w http.ResponseWriter, r *http.Request) error {
	pushers, err := a.pushers.List(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"pushers": pushers})
}

// handleSetPusher serves POST /_matrix/client/v3/pushers/set.
func (a *API) handleSetPusher(w http.ResponseWriter, r *http.Request) error {
	var body push.WirePusher
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	if err := a.pushers.Set(r.Context(), req.UserID, req.DeviceID, body); err != nil {
		return err
	}
	return ok(w, nil)
}
