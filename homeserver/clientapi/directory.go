package clientapi

import (
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

func pathAlias(r *http.Request) (id.RoomAlias, error) {
	v, err := web.PathParam(r, "roomAlias")
	if err != nil {
		return "", err
	}
	if len(v) < 2 || v[0] != '#' {
		return "", mxerr.InvalidParam.WithMessage("%q is not a room alias", v)
	}
	return id.RoomAlias(v), nil
}

// handleGetAlias serves GET /_matrix/client/v3/directory/room/{roomAlias} (data/api/client-server/directory.yaml).
func (a *API) handleGetAlias(w http.ResponseWriter, r *http.Request) error {
	alias, err := pathAlias(r)
	if err != nil {
		return err
	}
	roomID, err := a.resolveAlias(r, alias)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"room_id": roomID, "servers": []string{a.serverName}})
}

// handlePutAlias serves PUT /_matrix/client/v3/directory/room/{roomAlias} (data/api/client-server/directory.yaml).
func (a *API) handlePutAlias(w http.ResponseWriter, r *http.Request) error {
	alias, err := pathAlias(r)
	if err != nil {
		return err
	}
	var body struct {
		RoomID id.RoomID `json:"room_id"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if len(body.RoomID) < 2 || body.RoomID[0] != '!' {
		return mxerr.InvalidParam.WithMessage("room_id must be a room ID")
	}
	if err := a.checkAlias(r, alias); err != nil {
		return err
	}
	if err := a.rooms.CreateAlias(r.Context(), alias, body.RoomID, requester(r).UserID); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleDeleteAlias serves DELETE /_matrix/client/v3/directory/room/{roomAlias} (data/api/client-server/directory.yaml).
func (a *API) handleDeleteAlias(w http.ResponseWriter, r *http.Request) error {
	alias, err := pathAlias(r)
	if err != nil {
		return err
	}
	if err := a.rooms.DeleteAlias(r.Context(), alias, requester(r).UserID); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleGetRoomAliases serves GET /_matrix/client/v3/rooms/{roomId}/aliases (data/api/client-server/directory.yaml).
func (a *API) handleGetRoomAliases(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	aliases, err := a.rooms.Aliases(r.Context(), roomID, requester(r).UserID)
	if err != nil {
		return err
	}
	if aliases == nil {
		aliases = []id.RoomAlias{}
	}
	return ok(w, map[string]any{"aliases": aliases})
}
