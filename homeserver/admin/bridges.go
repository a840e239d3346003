package admin

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// bridgeRoutes are the endpoints that operate the built-in bridges.
func (a *API) bridgeRoutes(r chi.Router) {
	r.Get("/_causeway/admin/v1/bridges/{name}", a.admin(a.handleBridgeStatus))
	r.Put("/_causeway/admin/v1/bridges/{name}/{workspace}/channels/{channel}", a.admin(a.handleBridgeChannel))
	r.Delete("/_causeway/admin/v1/bridges/{name}/{workspace}/channels/{channel}", a.admin(a.handleUnbridgeChannel))
	r.Post("/_causeway/admin/v1/bridges/{name}/{workspace}/channels/{channel}/resync", a.admin(a.handleResyncChannel))
}

// handleBridgeStatus serves GET /_causeway/admin/v1/bridges/{name}: where a built-in bridge
// stands (for Slack, each workspace's connection, events, rate limits and errors).
func (a *API) handleBridgeStatus(w http.ResponseWriter, r *http.Request) error {
	name, err := web.PathParam(r, "name")
	if err != nil {
		return err
	}
	if a.bridges == nil {
		return mxerr.NotFound.WithMessage("No built-in bridge runs")
	}
	status, ok := a.bridges.BridgeStatus(r.Context(), name)
	if !ok {
		return mxerr.NotFound.WithMessage("The %s bridge does not run", name)
	}
	return web.WriteJSON(w, http.StatusOK, status)
}

// handleBridgeChannel serves PUT /_causeway/admin/v1/bridges/{name}/{workspace}/channels/
// {channel}: bridge a channel into a new portal, or into {"room_id": …} when the body names one.
func (a *API) handleBridgeChannel(w http.ResponseWriter, r *http.Request) error {
	name, workspace, channel, err := a.bridgeParams(r)
	if err != nil {
		return err
	}
	var body struct {
		RoomID id.RoomID `json:"room_id"`
	}
	if err := web.ReadOptionalJSON(w, r, 4096, &body); err != nil {
		return err
	}
	roomID, err := a.bridges.BridgeChannel(r.Context(), name, workspace, channel, body.RoomID)
	if err != nil {
		return bridgeError(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]id.RoomID{"room_id": roomID})
}

// handleUnbridgeChannel serves DELETE /_causeway/admin/v1/bridges/{name}/{workspace}/channels/{channel}.
func (a *API) handleUnbridgeChannel(w http.ResponseWriter, r *http.Request) error {
	name, workspace, channel, err := a.bridgeParams(r)
	if err != nil {
		return err
	}
	if err := a.bridges.UnbridgeChannel(r.Context(), name, workspace, channel); err != nil {
		return bridgeError(err)
	}
	return web.WriteJSON(w, http.StatusOK, struct{}{})
}

// handleResyncChannel serves POST /_causeway/admin/v1/bridges/{name}/{workspace}/channels/{channel}/resync.
func (a *API) handleResyncChannel(w http.ResponseWriter, r *http.Request) error {
	name, workspace, channel, err := a.bridgeParams(r)
	if err != nil {
		return err
	}
	if err := a.bridges.ResyncChannel(r.Context(), name, workspace, channel); err != nil {
		return bridgeError(err)
	}
	return web.WriteJSON(w, http.StatusOK, struct{}{})
}

func (a *API) bridgeParams(r *http.Request) (name, workspace, channel string, err error) {
	if a.bridges == nil {
		return "", "", "", mxerr.NotFound.WithMessage("No built-in bridge runs")
	}
	if name, err = web.PathParam(r, "name"); err != nil {
		return
	}
	if workspace, err = web.PathParam(r, "workspace"); err != nil {
		return
	}
	channel, err = web.PathParam(r, "channel")
	return
}

// bridgeError answers for a bridge operation that failed: 404 for an unknown bridge,
// workspace or channel, 400 with the bridge's reason otherwise (a refusal by Slack, say).
func bridgeError(err error) error {
	var nf interface{ NotFound() bool }
	if errors.As(err, &nf) && nf.NotFound() {
		return mxerr.NotFound.WithMessage("%s", err)
	}
	return mxerr.Unknown.WithStatus(http.StatusBadRequest).WithMessage("%s", err)
}
