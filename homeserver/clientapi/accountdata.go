package clientapi

import (
	"encoding/json"
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// handleSetAccountData serves PUT /_matrix/client/v3/user/{userId}/account_data/{type}
// (data/api/client-server/account-data.yaml).
func (a *API) handleSetAccountData(w http.ResponseWriter, r *http.Request) error {
	return a.setAccountData(w, r, false)
}

// handleSetRoomAccountData serves PUT
// /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}.
func (a *API) handleSetRoomAccountData(w http.ResponseWriter, r *http.Request) error {
	return a.setAccountData(w, r, true)
}

// handleGetAccountData serves GET /_matrix/client/v3/user/{userId}/account_data/{type}.
func (a *API) handleGetAccountData(w http.ResponseWriter, r *http.Request) error {
	return a.getAccountData(w, r, false)
}

// handleGetRoomAccountData serves GET
// /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}.
func (a *API) handleGetRoomAccountData(w http.ResponseWriter, r *http.Request) error {
	return a.getAccountData(w, r, true)
}

func (a *API) setAccountData(w http.ResponseWriter, r *http.Request, inRoom bool) error {
	userID, roomID, typ, err := a.accountDataPath(r, inRoom)
	if err != nil {
		return err
	}
	var content json.RawMessage
	if err := a.readJSON(w, r, &content); err != nil {
		return err
	}
	if err := a.sync.SetAccountData(r.Context(), userID, roomID, typ, content); err != nil {
		return err
	}
	return ok(w, nil)
}

func (a *API) getAccountData(w http.ResponseWriter, r *http.Request, inRoom bool) error {
	userID, roomID, typ, err := a.accountDataPath(r, inRoom)
	if err != nil {
		return err
	}
	content, err := a.sync.AccountData(r.Context(), userID, roomID, typ)
	if err != nil {
		return err
	}
	return ok(w, content)
}

// accountDataPath reads the user (who must be the requester), the room when inRoom ("" for
// global account data) and the type of an account data path.
func (a *API) accountDataPath(r *http.Request, inRoom bool) (userID id.UserID, roomID id.RoomID, typ string, err error) {
	if userID, err = a.pathSelf(r); err != nil {
		return "", "", "", err
	}
	if inRoom {
		if roomID, err = web.PathRoomID(r, "roomId"); err != nil {
			return "", "", "", err
		}
	}
	if typ, err = web.PathParam(r, "type"); err != nil {
		return "", "", "", err
	}
	if typ == "" {
		return "", "", "", mxerr.InvalidParam.WithMessage("the account data type is empty")
	}
	return userID, roomID, typ, nil
}

// handleGetTags serves GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags
// (data/api/client-server/tags.yaml).
func (a *API) handleGetTags(w http.ResponseWriter, r *http.Request) error {
	userID, roomID, err := a.tagsPath(r)
	if err != nil {
		return err
	}
	tags, err := a.sync.Tags(r.Context(), userID, roomID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"tags": tags})
}

// handleSetTag serves PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
// (data/api/client-server/tags.yaml).
func (a *API) handleSetTag(w http.ResponseWriter, r *http.Request) error {
	userID, roomID, err := a.tagsPath(r)
	if err != nil {
		return err
	}
	tag, err := web.PathParam(r, "tag")
	if err != nil {
		return err
	}
	var data json.RawMessage
	if err := a.readJSON(w, r, &data); err != nil {
		return err
	}
	if err := a.sync.SetTag(r.Context(), userID, roomID, tag, data); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleDeleteTag serves DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
// (data/api/client-server/tags.yaml).
func (a *API) handleDeleteTag(w http.ResponseWriter, r *http.Request) error {
	userID, roomID, err := a.tagsPath(r)
	if err != nil {
		return err
	}
	tag, err := web.PathParam(r, "tag")
	if err != nil {
		return err
	}
	if err := a.sync.DeleteTag(r.Context(), userID, roomID, tag); err != nil {
		return err
	}
	return ok(w, nil)
}

// tagsPath reads the user (who must be the requester) and the room of a tags path.
func (a *API) tagsPath(r *http.Request) (id.UserID, id.RoomID, error) {
	userID, err := a.pathSelf(r)
	if err != nil {
		return "", "", err
	}
	roomID, err := web.PathRoomID(r, "roomId")
	return userID, roomID, err
}
