package clientapi

import (
	"net/http"

	"causeway/homeserver/web"
)

// presenceBody is the body of PUT /presence/{userId}/status.
type presenceBody struct {
	Presence  string `json:"presence"`
	StatusMsg string `json:"status_msg"`
}

// handleSetPresence serves PUT /_matrix/client/v3/presence/{userId}/status
// (data/api/client-server/presence.yaml): only for oneself.
func (a *API) handleSetPresence(w http.ResponseWriter, r *http.Request) error {
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	var body presenceBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if err := a.sync.SetPresence(r.Context(), userID, body.Presence, body.StatusMsg); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleGetPresence serves GET /_matrix/client/v3/presence/{userId}/status: one's own presence
// or that of someone sharing a room.
func (a *API) handleGetPresence(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	p, err := a.sync.Presence(r.Context(), requester(r).UserID, userID)
	if err != nil {
		return err
	}
	return ok(w, p)
}
