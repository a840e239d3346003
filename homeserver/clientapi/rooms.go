package clientapi

import (
	"context"
	"encoding/json"
	"encoding/json/jsontext"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
	"causeway/homeserver/web"
)

type createRoomRequest struct {
	Visibility         string                     `json:"visibility"`
	RoomAliasName      string                     `json:"room_alias_name"`
	Name               *string                    `json:"name"`
	Topic              *string                    `json:"topic"`
	Invite             []id.UserID                `json:"invite"`
	RoomVersion        id.RoomVersion             `json:"room_version"`
	CreationContent    map[string]json.RawMessage `json:"creation_content"`
	InitialState       []initialState             `json:"initial_state"`
	Preset             string                     `json:"preset"`
	IsDirect           bool                       `json:"is_direct"`
	PowerLevelOverride map[string]json.RawMessage `json:"power_level_content_override"`
}

type initialState struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

func rawMap(m map[string]json.RawMessage) map[string]jsontext.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]jsontext.Value, len(m))
	for k, v := range m {
		out[k] = jsontext.Value(v)
	}
	return out
}

// handleCreateRoom serves POST /_matrix/client/v3/createRoom (data/api/client-server/create_room.yaml).
func (a *API) handleCreateRoom(w http.ResponseWriter, r *http.Request) error {
	if err := requester(r).CheckNotSuspended("create rooms"); err != nil {
		return err
	}
	var body createRoomRequest
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Visibility != "" && body.Visibility != "public" && body.Visibility != "private" {
		return mxerr.InvalidParam.WithMessage("visibility must be public or private")
	}
	req := rooms.CreateRequest{
		Creator:            requester(r).UserID,
		Version:            body.RoomVersion,
		Preset:             body.Preset,
		Public:             body.Visibility == "public",
		Name:               body.Name,
		Topic:              body.Topic,
		AliasLocalpart:     body.RoomAliasName,
		IsDirect:           body.IsDirect,
		CreationContent:    rawMap(body.CreationContent),
		PowerLevelOverride: rawMap(body.PowerLevelOverride),
	}
	if body.RoomAliasName != "" {
		if err := a.checkAlias(r, id.NewRoomAlias(body.RoomAliasName, a.serverName)); err != nil {
			return err
		}
	}
	for _, u := range body.Invite {
		if _, _, err := u.Parse(); err != nil {
			return mxerr.InvalidParam.WithMessage("invalid user ID %q in invite", u)
		}
		a.provisionUser(r, u)
		req.Invite = append(req.Invite, u)
	}
	for _, st := range body.InitialState {
		if st.Type == "" || !isJSONObject(st.Content) {
			return mxerr.BadJSON.WithMessage("initial_state entries need a type and an object content")
		}
		req.InitialState = append(req.InitialState, rooms.InitialStateEvent{Type: st.Type, StateKey: st.StateKey, Content: jsontext.Value(st.Content)})
	}
	roomID, err := a.rooms.CreateRoom(r.Context(), req)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"room_id": roomID})
}

func isJSONObject(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return strings.HasPrefix(s, "{") && json.Valid(raw)
}

type membershipBody struct {
	UserID id.UserID `json:"user_id"`
	Reason string    `json:"reason"`
}

// handleJoinByIDOrAlias serves POST /_matrix/client/v3/join/{roomIdOrAlias} (data/api/client-server/joining.yaml).
func (a *API) handleJoinByIDOrAlias(w http.ResponseWriter, r *http.Request) error {
	target, err := web.PathParam(r, "roomIdOrAlias")
	if err != nil {
		return err
	}
	roomID, err := a.resolveRoom(r, target)
	if err != nil {
		return err
	}
	return a.join(w, r, roomID)
}

// handleJoinRoom serves POST /_matrix/client/v3/rooms/{roomId}/join (data/api/client-server/joining.yaml).
func (a *API) handleJoinRoom(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	return a.join(w, r, roomID)
}

func (a *API) join(w http.ResponseWriter, r *http.Request, roomID id.RoomID) error {
	if err := requester(r).CheckNotSuspended("join rooms or accept invites"); err != nil {
		return err
	}
	if err := a.changeOwnMembership(w, r, roomID, a.rooms.Join); err != nil {
		return err
	}
	if err := a.sync.CarryOverRoomSettings(r.Context(), requester(r).UserID, roomID); err != nil {
		// The join stands; only the tags of an upgraded room's predecessor stay behind.
		a.log.WarnContext(r.Context(), "cannot carry room settings over from the predecessor", "room_id", roomID, "error", err)
	}
	return ok(w, map[string]any{"room_id": roomID})
}

// handleKnock serves POST /_matrix/client/v3/knock/{roomIdOrAlias} (data/api/client-server/knocking.yaml).
func (a *API) handleKnock(w http.ResponseWriter, r *http.Request) error {
	target, err := web.PathParam(r, "roomIdOrAlias")
	if err != nil {
		return err
	}
	roomID, err := a.resolveRoom(r, target)
	if err != nil {
		return err
	}
	if err := requester(r).CheckNotSuspended("knock on rooms"); err != nil {
		return err
	}
	if err := a.changeOwnMembership(w, r, roomID, a.rooms.Knock); err != nil {
		return err
	}
	return ok(w, map[string]any{"room_id": roomID})
}

// changeOwnMembership reads the optional {"reason"} body of a join, knock or leave and has the
// requester change their own membership with change.
func (a *API) changeOwnMembership(w http.ResponseWriter, r *http.Request, roomID id.RoomID, change func(context.Context, id.RoomID, rooms.MembershipRequest) (*storage.Event, error)) error {
	var body membershipBody
	if err := a.readOptionalJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	_, err := change(r.Context(), roomID, rooms.MembershipRequest{Sender: req.UserID, Reason: body.Reason, TxnDevice: req.DeviceID})
	return err
}

// handleUpgrade serves POST /_matrix/client/v3/rooms/{roomId}/upgrade
// (data/api/client-server/room_upgrades.yaml).
func (a *API) handleUpgrade(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	if err := requester(r).CheckNotSuspended("upgrade rooms"); err != nil {
		return err
	}
	var body struct {
		NewVersion         id.RoomVersion `json:"new_version"`
		AdditionalCreators []id.UserID    `json:"additional_creators"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.NewVersion == "" {
		return mxerr.MissingParam.WithMessage("new_version is required")
	}
	newRoom, err := a.rooms.Upgrade(r.Context(), rooms.UpgradeRequest{RoomID: roomID, User: requester(r).UserID,
		NewVersion: body.NewVersion, AdditionalCreators: body.AdditionalCreators})
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"replacement_room": newRoom})
}

// readOptionalJSON reads a JSON body that clients may omit entirely (or send as null).
func (a *API) readOptionalJSON(w http.ResponseWriter, r *http.Request, into any) error {
	return web.ReadOptionalJSON(w, r, a.cfg.MaxRequestBodyBytes, into)
}

// resolveRoom turns a room ID or a local alias into a room ID.
func (a *API) resolveRoom(r *http.Request, target string) (id.RoomID, error) {
	switch {
	case strings.HasPrefix(target, "!"):
		return id.RoomID(target), nil
	case strings.HasPrefix(target, "#"):
		roomID, err := a.resolveAlias(r, id.RoomAlias(target))
		if err != nil {
			return "", err
		}
		return roomID, nil
	default:
		return "", mxerr.InvalidParam.WithMessage("%q is neither a room ID nor an alias", target)
	}
}

// membershipChange serves the endpoints that change another user's membership: invite, kick,
// ban and unban (inviting.yaml, kicking.yaml, banning.yaml). change is the rooms method to call.
func (a *API) membershipChange(change func(context.Context, id.RoomID, rooms.MembershipRequest) (*storage.Event, error)) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		roomID, err := web.PathRoomID(r, "roomId")
		if err != nil {
			return err
		}
		if err := requester(r).CheckNotSuspended("invite, kick, ban or unban users"); err != nil {
			return err
		}
		var body membershipBody
		if err := a.readJSON(w, r, &body); err != nil {
			return err
		}
		if body.UserID == "" {
			return mxerr.MissingParam.WithMessage("user_id is required")
		}
		if _, _, err := body.UserID.Parse(); err != nil {
			return mxerr.InvalidParam.WithMessage("invalid user_id %q", body.UserID)
		}
		a.provisionUser(r, body.UserID)
		req := requester(r)
		mr := rooms.MembershipRequest{Sender: req.UserID, Target: body.UserID, Reason: body.Reason, TxnDevice: req.DeviceID}
		if _, err := change(r.Context(), roomID, mr); err != nil {
			return err
		}
		return ok(w, nil)
	}
}

// handleLeave serves POST /_matrix/client/v3/rooms/{roomId}/leave (data/api/client-server/leaving.yaml).
func (a *API) handleLeave(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	if err := a.changeOwnMembership(w, r, roomID, a.rooms.Leave); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleForget serves POST /_matrix/client/v3/rooms/{roomId}/forget (data/api/client-server/leaving.yaml).
func (a *API) handleForget(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	if err := a.rooms.Forget(r.Context(), roomID, requester(r).UserID); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleJoinedRooms serves GET /_matrix/client/v3/joined_rooms (data/api/client-server/list_joined_rooms.yaml).
func (a *API) handleJoinedRooms(w http.ResponseWriter, r *http.Request) error {
	joined, err := a.rooms.JoinedRooms(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"joined_rooms": joined})
}
