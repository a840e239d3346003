package rooms

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"maps"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Presets of POST /createRoom (data/api/client-server/create_room.yaml).
const (
	PresetPrivateChat        = "private_chat"
	PresetTrustedPrivateChat = "trusted_private_chat"
	PresetPublicChat         = "public_chat"
)

// InitialStateEvent is one entry of createRoom's initial_state.
type InitialStateEvent struct {
	Type     string         `json:"type"`
	StateKey string         `json:"state_key"`
	Content  jsontext.Value `json:"content"`
}

// CreateRequest is what a user asks of POST /createRoom.
type CreateRequest struct {
	Creator            id.UserID
	Version            id.RoomVersion // "" for the server default
	Preset             string         // "" to derive from Public
	Public             bool           // list in the room directory
	Name               *string
	Topic              *string
	AliasLocalpart     string
	Invite             []id.UserID
	IsDirect           bool
	CreationContent    map[string]jsontext.Value
	InitialState       []InitialStateEvent
	PowerLevelOverride map[string]jsontext.Value
}

// CreateRoom creates a room with every event the request implies, in the order the spec gives,
// in one transaction: a request that fails on any event leaves no trace.
func (s *Service) CreateRoom(ctx context.Context, req CreateRequest) (id.RoomID, error) {
	plan, err := s.planCreation(req)
	if err != nil {
		return "", err
	}
	var rt *roomTx
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		rt, err = s.createIn(ctx, tx, plan)
		return err
	})
	if err != nil {
		return "", err
	}
	s.versions.Store(rt.room.ID, plan.version)
	s.notify(rt.written)
	return rt.room.ID, nil
}

// creation is a checked CreateRequest: the room's version, its alias and its events in order.
type creation struct {
	req     CreateRequest
	version id.RoomVersion
	alias   id.RoomAlias
	protos  []ProtoEvent
}

// planCreation checks a request and lists the events it implies.
func (s *Service) planCreation(req CreateRequest) (creation, error) {
	version := req.Version
	if version == "" {
		version = s.defaultVersion
	}
	if !CanCreate(version) {
		return creation{}, mxerr.UnsupportedRoomVersion.WithMessage("room version %q is not supported", version)
	}
	preset := req.Preset
	if preset == "" {
		preset = PresetPrivateChat
		if req.Public {
			preset = PresetPublicChat
		}
	}
	if preset != PresetPrivateChat && preset != PresetTrustedPrivateChat && preset != PresetPublicChat {
		return creation{}, mxerr.InvalidParam.WithMessage("unknown preset %q", preset)
	}
	plan := creation{req: req, version: version}
	if req.AliasLocalpart != "" {
		var err error
		if plan.alias, err = s.localAlias(req.AliasLocalpart); err != nil {
			return creation{}, err
		}
	}
	var err error
	plan.protos, err = s.creationEvents(req, version, preset, plan.alias)
	return plan, err
}

// createIn creates the planned room in tx and returns it for more events in the same
// transaction; the caller announces rt.written once tx has committed.
func (s *Service) createIn(ctx context.Context, tx *storage.Tx, plan creation) (*roomTx, error) {
	room := storage.Room{Version: plan.version, IsPublic: plan.req.Public}
	if !plan.version.RoomIDIsCreateEventID() {
		room.ID = id.RoomID("!" + randomString(18) + ":" + s.serverName)
	}
	rt := s.newRoomTx(tx, room)
	for i, proto := range plan.protos {
		if proto.Type == event.StateMember.Type {
			var err error
			if proto.Content, err = s.memberContent(ctx, tx, id.UserID(*proto.StateKey), proto.Content); err != nil {
				return nil, err
			}
		}
		if _, err := rt.append(ctx, proto); err != nil {
			var re mautrix.RespError
			if i > 1 && errors.As(err, &re) && re.ErrCode == mxerr.Forbidden.ErrCode {
				// An event the request implies was refused by the auth rules.
				return nil, mxerr.InvalidRoomState.WithMessage("%s", re.Err)
			}
			return nil, err
		}
		if i == 0 && plan.alias != "" {
			if err := tx.InsertAlias(ctx, plan.alias, rt.room.ID, plan.req.Creator, rt.now.UnixMilli()); errors.Is(err, storage.ErrConflict) {
				return nil, mxerr.RoomInUse.WithMessage("alias %s is taken", plan.alias)
			} else if err != nil {
				return nil, err
			}
		}
	}
	return rt, nil
}

// creationEvents lists the events of a new room in the order of create_room.yaml.
func (s *Service) creationEvents(req CreateRequest, version id.RoomVersion, preset string, alias id.RoomAlias) ([]ProtoEvent, error) {
	creator := req.Creator
	state := func(evType, stateKey string, content any) (ProtoEvent, error) {
		raw, err := json.Marshal(content, json.Deterministic(true))
		if err != nil {
			return ProtoEvent{}, mxerr.BadJSON.WithMessage("%s content: %v", evType, err)
		}
		return ProtoEvent{Type: evType, StateKey: &stateKey, Sender: creator, Content: raw}, nil
	}
	var out []ProtoEvent
	add := func(evType, stateKey string, content any) error {
		p, err := state(evType, stateKey, content)
		out = append(out, p)
		return err
	}

	createContent := maps.Clone(req.CreationContent)
	if createContent == nil {
		createContent = map[string]jsontext.Value{}
	}
	createContent["room_version"] = mustJSON(version)
	delete(createContent, "creator")
	if version.CreatorInContent() {
		createContent["creator"] = mustJSON(creator)
	}
	if preset == PresetTrustedPrivateChat && version.PrivilegedRoomCreators() && len(req.Invite) > 0 {
		createContent["additional_creators"] = mustJSON(req.Invite)
	}
	steps := []func() error{
		func() error { return add(event.StateCreate.Type, "", createContent) },
		func() error {
			return add(event.StateMember.Type, string(creator), map[string]any{"membership": "join"})
		},
		func() error { return add(event.StatePowerLevels.Type, "", s.initialPowerLevels(req, version, preset)) },
	}
	if alias != "" {
		steps = append(steps, func() error {
			return add(event.StateCanonicalAlias.Type, "", map[string]any{"alias": alias})
		})
	}
	joinRule, guestAccess := "invite", "can_join"
	if preset == PresetPublicChat {
		joinRule, guestAccess = "public", "forbidden"
	}
	steps = append(steps,
		func() error { return add(event.StateJoinRules.Type, "", map[string]any{"join_rule": joinRule}) },
		func() error {
			return add(event.StateHistoryVisibility.Type, "", map[string]any{"history_visibility": "shared"})
		},
		func() error { return add(event.StateGuestAccess.Type, "", map[string]any{"guest_access": guestAccess}) },
	)
	for _, st := range req.InitialState {
		if st.Type == event.StateCreate.Type || st.Type == event.StateMember.Type {
			return nil, mxerr.InvalidParam.WithMessage("initial_state may not contain %s", st.Type)
		}
		if req.Name != nil && st.Type == event.StateRoomName.Type || req.Topic != nil && st.Type == event.StateTopic.Type {
			continue // name and topic parameters overwrite initial_state
		}
		steps = append(steps, func() error { return add(st.Type, st.StateKey, st.Content) })
	}
	if req.Name != nil {
		steps = append(steps, func() error { return add(event.StateRoomName.Type, "", map[string]any{"name": *req.Name}) })
	}
	if req.Topic != nil {
		steps = append(steps, func() error {
			return add(event.StateTopic.Type, "", map[string]any{
				"topic": *req.Topic,
				// m.topic is a TopicContentBlock: {"m.text": [representations]} (m.room.topic.yaml).
				"m.topic": map[string]any{"m.text": []map[string]any{{"mimetype": "text/plain", "body": *req.Topic}}},
			})
		})
	}
	for _, invitee := range req.Invite {
		content := map[string]any{"membership": "invite"}
		if req.IsDirect {
			content["is_direct"] = true
		}
		steps = append(steps, func() error { return add(event.StateMember.Type, string(invitee), content) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// initialPowerLevels is the default m.room.power_levels of a new room, with the request's
// override applied on top.
func (s *Service) initialPowerLevels(req CreateRequest, version id.RoomVersion, preset string) map[string]any {
	users := map[id.UserID]int{}
	if !version.PrivilegedRoomCreators() {
		users[req.Creator] = 100
		if preset == PresetTrustedPrivateChat {
			for _, invitee := range req.Invite {
				users[invitee] = 100
			}
		}
	}
	tombstone := 100
	if version.PrivilegedRoomCreators() {
		tombstone = 150 // must be above state_default from v12 on (create_room.yaml)
	}
	invite := 0
	if preset == PresetPublicChat {
		invite = 50
	}
	pl := map[string]any{
		"users":          users,
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"ban":            50,
		"kick":           50,
		"redact":         50,
		"invite":         invite,
		"events": map[string]int{
			event.StateRoomName.Type:          50,
			event.StatePowerLevels.Type:       100,
			event.StateHistoryVisibility.Type: 100,
			event.StateCanonicalAlias.Type:    50,
			event.StateRoomAvatar.Type:        50,
			event.StateTombstone.Type:         tombstone,
			event.StateServerACL.Type:         100,
			event.StateEncryption.Type:        100,
		},
		"notifications": map[string]int{"room": 50},
	}
	for k, v := range req.PowerLevelOverride {
		pl[k] = v
	}
	return pl
}

// localAlias validates an alias localpart and returns the full alias on this server.
func (s *Service) localAlias(localpart string) (id.RoomAlias, error) {
	alias := id.NewRoomAlias(localpart, s.serverName)
	if localpart == "" || len(alias) > 255 {
		return "", mxerr.InvalidParam.WithMessage("invalid room alias localpart %q", localpart)
	}
	for _, r := range localpart {
		if r == ':' || r == '#' || r < 0x21 || r == 0x7f {
			return "", mxerr.InvalidParam.WithMessage("invalid room alias localpart %q", localpart)
		}
	}
	return alias, nil
}

func mustJSON(v any) jsontext.Value {
	raw, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		panic(err)
	}
	return raw
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
