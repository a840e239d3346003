package clientapi

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/keys"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// backupVersionBody is the body of POST /room_keys/version and PUT /room_keys/version/{version}.
type backupVersionBody struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   string          `json:"version"` // PUT only, optional
}

// keyDataBody is a session's key as uploaded, with pointers so that a missing field is told
// from a zero value: all four are required (definitions/key_backup_data.yaml).
type keyDataBody struct {
	FirstMessageIndex *int64          `json:"first_message_index"`
	ForwardedCount    *int64          `json:"forwarded_count"`
	IsVerified        *bool           `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// roomKeysBody is a room's keys as uploaded (definitions/room_key_backup.yaml).
type roomKeysBody struct {
	Sessions map[id.SessionID]keyDataBody `json:"sessions"`
}

// handleCreateBackupVersion serves POST /_matrix/client/v3/room_keys/version
// (data/api/client-server/key_backup.yaml).
func (a *API) handleCreateBackupVersion(w http.ResponseWriter, r *http.Request) error {
	var body backupVersionBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	version, err := a.backups.CreateVersion(r.Context(), requester(r).UserID, body.Algorithm, body.AuthData)
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"version": version})
}

// handleGetLatestBackupVersion serves GET /_matrix/client/v3/room_keys/version
// (data/api/client-server/key_backup.yaml).
func (a *API) handleGetLatestBackupVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := a.backups.Version(r.Context(), requester(r).UserID, "")
	if err != nil {
		return err
	}
	return ok(w, v)
}

// handleGetBackupVersion serves GET /_matrix/client/v3/room_keys/version/{version}
// (data/api/client-server/key_backup.yaml).
func (a *API) handleGetBackupVersion(w http.ResponseWriter, r *http.Request) error {
	version, err := web.PathParam(r, "version")
	if err != nil {
		return err
	}
	v, err := a.backups.Version(r.Context(), requester(r).UserID, version)
	if err != nil {
		return err
	}
	return ok(w, v)
}

// handleUpdateBackupVersion serves PUT /_matrix/client/v3/room_keys/version/{version}
// (data/api/client-server/key_backup.yaml).
func (a *API) handleUpdateBackupVersion(w http.ResponseWriter, r *http.Request) error {
	version, err := web.PathParam(r, "version")
	if err != nil {
		return err
	}
	var body backupVersionBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	err = a.backups.UpdateVersion(r.Context(), requester(r).UserID, version, body.Version, body.Algorithm, body.AuthData)
	if err != nil {
		return err
	}
	return ok(w, nil)
}

// handleDeleteBackupVersion serves DELETE /_matrix/client/v3/room_keys/version/{version}
// (data/api/client-server/key_backup.yaml).
func (a *API) handleDeleteBackupVersion(w http.ResponseWriter, r *http.Request) error {
	version, err := web.PathParam(r, "version")
	if err != nil {
		return err
	}
	if err := a.backups.DeleteVersion(r.Context(), requester(r).UserID, version); err != nil {
		return err
	}
	return ok(w, nil)
}

// handlePutRoomKeys serves PUT /_matrix/client/v3/room_keys/keys, PUT
// /room_keys/keys/{roomId} and PUT /room_keys/keys/{roomId}/{sessionId}
// (data/api/client-server/key_backup.yaml): the body is, in turn, every room's keys, one
// room's, or one session's.
func (a *API) handlePutRoomKeys(w http.ResponseWriter, r *http.Request) error {
	version, roomID, sessionID, err := roomKeysPath(r)
	if err != nil {
		return err
	}
	var rooms map[id.RoomID]roomKeysBody
	switch {
	case sessionID != "":
		var key keyDataBody
		if err := a.readJSON(w, r, &key); err != nil {
			return err
		}
		rooms = map[id.RoomID]roomKeysBody{roomID: {Sessions: map[id.SessionID]keyDataBody{sessionID: key}}}
	case roomID != "":
		var room roomKeysBody
		if err := a.readJSON(w, r, &room); err != nil {
			return err
		}
		if room.Sessions == nil {
			return mxerr.MissingParam.WithMessage("sessions is required")
		}
		rooms = map[id.RoomID]roomKeysBody{roomID: room}
	default:
		var body struct {
			Rooms map[id.RoomID]roomKeysBody `json:"rooms"`
		}
		if err := a.readJSON(w, r, &body); err != nil {
			return err
		}
		if body.Rooms == nil {
			return mxerr.MissingParam.WithMessage("rooms is required")
		}
		rooms = body.Rooms
	}
	keyRooms, err := roomKeysFromBody(rooms)
	if err != nil {
		return err
	}
	update, err := a.backups.PutKeys(r.Context(), requester(r).UserID, version, keyRooms)
	if err != nil {
		return err
	}
	return ok(w, update)
}

// handleGetRoomKeys serves GET /_matrix/client/v3/room_keys/keys, GET
// /room_keys/keys/{roomId} and GET /room_keys/keys/{roomId}/{sessionId}
// (data/api/client-server/key_backup.yaml).
func (a *API) handleGetRoomKeys(w http.ResponseWriter, r *http.Request) error {
	version, roomID, sessionID, err := roomKeysPath(r)
	if err != nil {
		return err
	}
	userID := requester(r).UserID
	if sessionID != "" {
		key, err := a.backups.SessionKey(r.Context(), userID, version, roomID, sessionID)
		if err != nil {
			return err
		}
		return ok(w, key)
	}
	rooms, err := a.backups.Keys(r.Context(), userID, version, roomID)
	if err != nil {
		return err
	}
	if roomID != "" {
		room, found := rooms[roomID]
		if !found {
			room = keys.RoomKeys{Sessions: map[id.SessionID]keys.KeyData{}}
		}
		return ok(w, room)
	}
	return ok(w, map[string]any{"rooms": rooms})
}

// handleDeleteRoomKeys serves DELETE /_matrix/client/v3/room_keys/keys, DELETE
// /room_keys/keys/{roomId} and DELETE /room_keys/keys/{roomId}/{sessionId}
// (data/api/client-server/key_backup.yaml).
func (a *API) handleDeleteRoomKeys(w http.ResponseWriter, r *http.Request) error {
	version, roomID, sessionID, err := roomKeysPath(r)
	if err != nil {
		return err
	}
	update, err := a.backups.DeleteKeys(r.Context(), requester(r).UserID, version, roomID, sessionID)
	if err != nil {
		return err
	}
	return ok(w, update)
}

// roomKeysPath reads the required version query parameter and the room and session of a
// /room_keys/keys path ("" where the path has none).
func roomKeysPath(r *http.Request) (version string, roomID id.RoomID, sessionID id.SessionID, err error) {
	version = r.URL.Query().Get("version")
	if version == "" {
		return "", "", "", mxerr.MissingParam.WithMessage("The version query parameter is required")
	}
	// chi matches no empty parameter: a parameter is set exactly when the route has it.
	if chi.URLParam(r, "roomId") != "" {
		if roomID, err = web.PathRoomID(r, "roomId"); err != nil {
			return "", "", "", err
		}
	}
	if chi.URLParam(r, "sessionId") != "" {
		s, err := web.PathParam(r, "sessionId")
		if err != nil {
			return "", "", "", err
		}
		sessionID = id.SessionID(s)
	}
	return version, roomID, sessionID, nil
}

// roomKeysFromBody checks that every uploaded key has its four required fields and turns the
// body into the keys package's types; the values are checked there.
func roomKeysFromBody(rooms map[id.RoomID]roomKeysBody) (map[id.RoomID]keys.RoomKeys, error) {
	out := make(map[id.RoomID]keys.RoomKeys, len(rooms))
	for roomID, room := range rooms {
		sessions := make(map[id.SessionID]keys.KeyData, len(room.Sessions))
		for sessionID, k := range room.Sessions {
			if k.FirstMessageIndex == nil || k.ForwardedCount == nil || k.IsVerified == nil || len(k.SessionData) == 0 {
				return nil, mxerr.MissingParam.WithMessage(
					"the key of session %s needs first_message_index, forwarded_count, is_verified and session_data", sessionID)
			}
			sessions[sessionID] = keys.KeyData{
				FirstMessageIndex: *k.FirstMessageIndex,
				ForwardedCount:    *k.ForwardedCount,
				IsVerified:        *k.IsVerified,
				SessionData:       k.SessionData,
			}
		}
		out[roomID] = keys.RoomKeys{Sessions: sessions}
	}
	return out, nil
}
