package rooms

import (
	"context"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"slices"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// transferredState are the state events an upgrade copies to the replacement room, as
// room_upgrades.md recommends, beside the power levels and the canonical alias.
var transferredState = []string{
	event.StateServerACL.Type, event.StateEncryption.Type, event.StateRoomName.Type, event.StateRoomAvatar.Type,
	event.StateTopic.Type, event.StateGuestAccess.Type, event.StateHistoryVisibility.Type, event.StateJoinRules.Type,
}

// UpgradeRequest is one POST /rooms/{roomId}/upgrade (data/api/client-server/room_upgrades.yaml).
type UpgradeRequest struct {
	RoomID             id.RoomID
	User               id.UserID
	NewVersion         id.RoomVersion
	AdditionalCreators []id.UserID // for room versions with privileged creators (12 and later)
}

// Upgrade replaces a room with a new one of another version (room_upgrades.md, "Server
// behaviour"): the user must be joined and allowed to send m.room.tombstone. The new room's
// create event names its predecessor and keeps the room type; the recommended state, the power
// levels and the canonical alias carry over; the local aliases and the directory listing move;
// the old room gets a tombstone, and power levels that stop ordinary members from talking or
// inviting there. All of it is one transaction: a failure leaves both rooms as they were.
func (s *Service) Upgrade(ctx context.Context, req UpgradeRequest) (id.RoomID, error) {
	if !CanCreate(req.NewVersion) {
		return "", mxerr.UnsupportedRoomVersion.WithMessage("room version %q is not supported", req.NewVersion)
	}
	if err := s.checkMayUpgrade(ctx, req); err != nil {
		return "", err
	}
	old, err := s.currentStateByKey(ctx, req.RoomID)
	if err != nil {
		return "", err
	}
	create, err := s.upgradeCreateRequest(req, old)
	if err != nil {
		return "", err
	}
	plan, err := s.planCreation(create)
	if err != nil {
		return "", err
	}
	var oldRT, newRT *roomTx
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		// The old room is locked first, as every send locks its room before the events
		// counter: the other order could deadlock with a message sent to the old room.
		if oldRT, err = s.openRoom(ctx, tx, req.RoomID); err != nil {
			return err
		}
		if newRT, err = s.createIn(ctx, tx, plan); err != nil {
			return err
		}
		return s.retireRoom(ctx, req, oldRT, newRT, old)
	})
	if err != nil {
		return "", err
	}
	s.versions.Store(newRT.room.ID, plan.version)
	s.notify(append(newRT.written, oldRT.written...))
	return newRT.room.ID, nil
}

// checkMayUpgrade refuses users who are not joined or may not send m.room.tombstone.
func (s *Service) checkMayUpgrade(ctx context.Context, req UpgradeRequest) error {
	membership, err := s.Membership(ctx, req.RoomID, req.User)
	if err != nil {
		return err
	}
	if membership != string(event.MembershipJoin) {
		return mxerr.Forbidden.WithMessage("you are not in room %s", req.RoomID)
	}
	pl, err := s.CurrentPowerLevels(ctx, req.RoomID)
	if err != nil {
		return err
	}
	if pl.GetUserLevel(req.User) < pl.GetEventLevel(event.StateTombstone) {
		return mxerr.Forbidden.WithMessage("you may not upgrade room %s", req.RoomID)
	}
	return nil
}

// currentStateByKey returns the contents of a room's current state events with an empty state
// key, by type, and the newest event of the room under the key "".
func (s *Service) currentStateByKey(ctx context.Context, roomID id.RoomID) (map[string]*storage.Event, error) {
	evs, err := s.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	out := map[string]*storage.Event{}
	for _, ev := range evs {
		if ev.StateKey != nil && *ev.StateKey == "" {
			out[ev.Type] = ev
		}
	}
	newest, err := s.db.RoomEventsBefore(ctx, roomID, storage.TopoPos{Depth: 1 << 62}, 1)
	if err != nil {
		return nil, err
	}
	if len(newest) == 1 {
		out[""] = newest[0]
	}
	return out, nil
}

// upgradeCreateRequest is the creation of the replacement room from the old room's state.
func (s *Service) upgradeCreateRequest(req UpgradeRequest, old map[string]*storage.Event) (CreateRequest, error) {
	predecessor := map[string]any{"room_id": req.RoomID}
	if last := old[""]; last != nil {
		predecessor["event_id"] = last.ID
	}
	creation := map[string]jsontext.Value{"predecessor": mustJSON(predecessor)}
	if c := old[event.StateCreate.Type]; c != nil {
		var cc struct {
			Type string `json:"type"`
		}
		if err := unmarshalContent(c, &cc); err != nil {
			return CreateRequest{}, err
		}
		if cc.Type != "" {
			creation["type"] = mustJSON(cc.Type)
		}
	}
	if len(req.AdditionalCreators) > 0 && req.NewVersion.PrivilegedRoomCreators() {
		creation["additional_creators"] = mustJSON(req.AdditionalCreators)
	}
	create := CreateRequest{Creator: req.User, Version: req.NewVersion, Preset: PresetPrivateChat, CreationContent: creation}
	for _, t := range transferredState {
		if ev := old[t]; ev != nil && ev.RedactedBy == "" {
			content, err := eventContent(ev)
			if err != nil {
				return CreateRequest{}, err
			}
			create.InitialState = append(create.InitialState, InitialStateEvent{Type: t, Content: content})
		}
	}
	if pl := old[event.StatePowerLevels.Type]; pl != nil {
		override, err := upgradedPowerLevels(pl, req)
		if err != nil {
			return CreateRequest{}, err
		}
		create.PowerLevelOverride = override
	}
	return create, nil
}

// upgradedPowerLevels is the old room's power levels for the new one: in a room version with
// privileged creators, the creators are left out of users, as its auth rules require;
// otherwise the upgrading user keeps their level, or gets 100 when they had none (a creator
// of an old room with privileged creators).
func upgradedPowerLevels(ev *storage.Event, req UpgradeRequest) (map[string]jsontext.Value, error) {
	var pl map[string]jsontext.Value
	if err := unmarshalContent(ev, &pl); err != nil {
		return nil, err
	}
	users := map[id.UserID]jsontext.Value{}
	if raw, ok := pl["users"]; ok {
		if err := json.Unmarshal(raw, &users); err != nil {
			users = map[id.UserID]jsontext.Value{}
		}
	}
	if req.NewVersion.PrivilegedRoomCreators() {
		for u := range users {
			if u == req.User || slices.Contains(req.AdditionalCreators, u) {
				delete(users, u)
			}
		}
	} else if _, ok := users[req.User]; !ok {
		users[req.User] = mustJSON(100) // a creator of an old room with privileged creators
	}
	pl["users"] = mustJSON(users)
	return pl, nil
}

// retireRoom finishes an upgrade in its transaction: the aliases and the directory listing
// move to the new room, which gets the canonical alias; the old room gets its tombstone and
// restricted power levels.
func (s *Service) retireRoom(ctx context.Context, req UpgradeRequest, oldRT, newRT *roomTx, old map[string]*storage.Event) error {
	if err := oldRT.tx.MoveAliases(ctx, req.RoomID, newRT.room.ID); err != nil {
		return err
	}
	if alias := old[event.StateCanonicalAlias.Type]; alias != nil && alias.RedactedBy == "" {
		content, err := eventContent(alias)
		if err != nil {
			return err
		}
		if err := appendState(ctx, newRT, req.User, event.StateCanonicalAlias.Type, content); err != nil {
			return err
		}
		err = appendState(ctx, oldRT, req.User, event.StateCanonicalAlias.Type, mustJSON(map[string]any{}))
		if err != nil && !errors.Is(err, mxerr.Forbidden) { // without the power, the old room keeps naming it
			return err
		}
	}
	if oldRT.room.IsPublic {
		if err := oldRT.tx.SetRoomPublic(ctx, newRT.room.ID, true); err != nil {
			return err
		}
		if err := oldRT.tx.SetRoomPublic(ctx, req.RoomID, false); err != nil {
			return err
		}
	}
	tombstone := mustJSON(map[string]any{"body": "This room has been replaced", "replacement_room": newRT.room.ID})
	if err := appendState(ctx, oldRT, req.User, event.StateTombstone.Type, tombstone); err != nil {
		return err
	}
	return restrictOldRoom(ctx, req, oldRT, old[event.StatePowerLevels.Type])
}

// restrictOldRoom raises events_default and invite in the old room to the greater of 50 and
// users_default + 1, where the user's power allows it.
func restrictOldRoom(ctx context.Context, req UpgradeRequest, oldRT *roomTx, plEvent *storage.Event) error {
	pl := map[string]jsontext.Value{}
	if plEvent != nil {
		if err := unmarshalContent(plEvent, &pl); err != nil {
			return err
		}
	}
	var usersDefault int
	json.Unmarshal(pl["users_default"], &usersDefault)
	level := mustJSON(max(50, usersDefault+1))
	pl["events_default"], pl["invite"] = level, level
	err := appendState(ctx, oldRT, req.User, event.StatePowerLevels.Type, mustJSON(pl))
	if err != nil && errors.Is(err, mxerr.Forbidden) {
		return nil // the user may upgrade but not change power levels: the tombstone says it all
	}
	return err
}

// appendState appends a state event with an empty state key, sent by user, to rt's room. An
// event the auth rules refuse writes nothing, so the transaction may go on without it.
func appendState(ctx context.Context, rt *roomTx, user id.UserID, evType string, content jsontext.Value) error {
	empty := ""
	_, err := rt.append(ctx, ProtoEvent{Type: evType, StateKey: &empty, Sender: user, Content: content})
	return err
}

// eventContent returns a stored event's content.
func eventContent(ev *storage.Event) (jsontext.Value, error) {
	p, err := ParsePDU(ev)
	if err != nil {
		return nil, err
	}
	return p.Content, nil
}

// unmarshalContent decodes a stored event's content into v.
func unmarshalContent(ev *storage.Event, v any) error {
	content, err := eventContent(ev)
	if err != nil {
		return err
	}
	return json.Unmarshal(content, v)
}

// Predecessor returns the room a room replaced, as its create event names it; "" for none.
func (s *Service) Predecessor(ctx context.Context, roomID id.RoomID) (id.RoomID, error) {
	evs, err := s.db.CurrentStateOfRooms(ctx, []id.RoomID{roomID}, []string{event.StateCreate.Type})
	if err != nil || len(evs) == 0 {
		return "", err
	}
	var c struct {
		Predecessor struct {
			RoomID id.RoomID `json:"room_id"`
		} `json:"predecessor"`
	}
	if err := unmarshalContent(evs[0], &c); err != nil {
		return "", nil // a create event whose content does not read has no predecessor
	}
	return c.Predecessor.RoomID, nil
}
