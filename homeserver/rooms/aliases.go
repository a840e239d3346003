package rooms

import (
	"context"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// ResolveAlias returns the room a local alias points at (data/api/client-server/directory.yaml).
func (s *Service) ResolveAlias(ctx context.Context, alias id.RoomAlias) (id.RoomID, error) {
	if _, server := splitAlias(alias); server != s.serverName {
		return "", mxerr.NotFound.WithMessage("alias %s is on another server; resolving it needs federation", alias)
	}
	roomID, _, err := s.db.AliasByName(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return "", mxerr.NotFound.WithMessage("room alias %s not found", alias)
	}
	return roomID, err
}

// CreateAlias maps a local alias to a room the user is joined to.
func (s *Service) CreateAlias(ctx context.Context, alias id.RoomAlias, roomID id.RoomID, userID id.UserID) error {
	localpart, server := splitAlias(alias)
	if _, err := s.localAlias(localpart); err != nil || server != s.serverName {
		return mxerr.InvalidParam.WithMessage("%s is not a valid alias on this server", alias)
	}
	if m, err := s.Membership(ctx, roomID, userID); err != nil {
		return err
	} else if m != string(event.MembershipJoin) {
		return mxerr.Forbidden.WithMessage("you must be in %s to give it an alias", roomID)
	}
	err := s.db.InsertAlias(ctx, alias, roomID, userID, s.now().UnixMilli())
	if errors.Is(err, storage.ErrConflict) {
		return mxerr.Unknown.WithMessage("room alias %s already exists", alias).WithStatus(409)
	}
	return err
}

// DeleteAlias removes a local alias. Its creator may, and so may anyone allowed to change the
// room's canonical alias.
func (s *Service) DeleteAlias(ctx context.Context, alias id.RoomAlias, userID id.UserID) error {
	roomID, creator, err := s.db.AliasByName(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound.WithMessage("room alias %s not found", alias)
	} else if err != nil {
		return err
	}
	if creator != userID {
		pl, err := s.CurrentPowerLevels(ctx, roomID)
		if err != nil {
			return err
		}
		if pl.GetUserLevel(userID) < pl.GetEventLevel(event.StateCanonicalAlias) {
			return mxerr.Forbidden.WithMessage("you may not delete %s", alias)
		}
	}
	return s.db.DeleteAlias(ctx, alias)
}

// Aliases lists a room's local aliases.
func (s *Service) Aliases(ctx context.Context, roomID id.RoomID, userID id.UserID) ([]id.RoomAlias, error) {
	if _, err := s.ViewerState(ctx, roomID, userID); err != nil {
		return nil, err
	}
	return s.db.AliasesOfRoom(ctx, roomID)
}

// checkCanonicalAlias refuses m.room.canonical_alias content that adds an invalid alias
// (M_INVALID_PARAM) or one that does not point at the room (M_BAD_ALIAS), as
// data/api/client-server/room_state.yaml asks. Aliases already in the current event are not
// checked again, so that one deleted since can still be kept or removed. An alias of another
// server cannot be resolved without federation and so is M_BAD_ALIAS.
func (rt *roomTx) checkCanonicalAlias(ctx context.Context, content jsontext.Value) error {
	type canonical struct {
		Alias      string   `json:"alias"`
		AltAliases []string `json:"alt_aliases"`
	}
	var next canonical
	if err := json.Unmarshal(content, &next); err != nil {
		return mxerr.InvalidParam.WithMessage("m.room.canonical_alias needs a string alias and a list of string alt_aliases")
	}
	prevContent, err := rt.stateContent(ctx, storage.StateKey{Type: event.StateCanonicalAlias.Type})
	if err != nil {
		return err
	}
	var prev canonical
	if prevContent != nil {
		json.Unmarshal(prevContent, &prev) // a malformed old event vouches for nothing
	}
	present := map[string]bool{"": true, prev.Alias: true} // "" is no alias
	for _, a := range prev.AltAliases {
		present[a] = true
	}
	for _, a := range append([]string{next.Alias}, next.AltAliases...) {
		if present[a] {
			continue
		}
		if _, server := splitAlias(id.RoomAlias(a)); !strings.HasPrefix(a, "#") || server == "" {
			return mxerr.InvalidParam.WithMessage("%q is not a room alias", a)
		}
		roomID, _, err := rt.tx.AliasByName(ctx, id.RoomAlias(a))
		if errors.Is(err, storage.ErrNotFound) || err == nil && roomID != rt.room.ID {
			return mxerr.BadAlias.WithMessage("room alias %s does not point at %s", a, rt.room.ID)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// splitAlias splits "#localpart:server" at the first colon (server names may hold ports).
func splitAlias(alias id.RoomAlias) (localpart, server string) {
	s := strings.TrimPrefix(string(alias), "#")
	localpart, server, _ = strings.Cut(s, ":")
	return localpart, server
}

// CurrentPowerLevels returns the room's power levels now, as the auth rules read them (see
// PowerLevels). It only reads: no lock, no write transaction.
func (s *Service) CurrentPowerLevels(ctx context.Context, roomID id.RoomID) (*event.PowerLevelsEventContent, error) {
	version, err := s.RoomVersion(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.Forbidden.WithMessage("unknown room %s", roomID)
	} else if err != nil {
		return nil, err
	}
	var ids []id.EventID
	for _, t := range []string{event.StateCreate.Type, event.StatePowerLevels.Type} {
		evID, err := s.db.CurrentStateEvent(ctx, roomID, storage.StateKey{Type: t})
		if err == nil {
			ids = append(ids, evID)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
	}
	evs, err := s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	var create *pdu.PDU
	var plContent jsontext.Value
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return nil, err
		}
		if p.Type == event.StateCreate.Type {
			create = p
		} else {
			plContent = p.Content
		}
	}
	if create == nil {
		return nil, fmt.Errorf("room %s has no create event", roomID)
	}
	return PowerLevels(version, plContent, create, create.Content)
}

// Forget hides a room the user has left from their /sync (data/api/client-server/leaving.yaml).
func (s *Service) Forget(ctx context.Context, roomID id.RoomID, userID id.UserID) error {
	m, err := s.Membership(ctx, roomID, userID)
	if err != nil {
		return err
	}
	if m == string(event.MembershipJoin) || m == string(event.MembershipInvite) {
		return mxerr.Unknown.WithMessage("leave the room before forgetting it").WithStatus(400)
	}
	if m == "" {
		return mxerr.NotFound.WithMessage("you were never in %s", roomID)
	}
	return s.db.ForgetRoom(ctx, userID, roomID, s.now().UnixMilli())
}

// JoinedRooms lists the rooms the user is joined to.
func (s *Service) JoinedRooms(ctx context.Context, userID id.UserID) ([]id.RoomID, error) {
	rooms, err := s.db.RoomsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []id.RoomID{}
	for roomID, m := range rooms {
		if m == string(event.MembershipJoin) {
			out = append(out, roomID)
		}
	}
	return out, nil
}

// MembershipsOf maps every room the user has a membership in to that membership.
func (s *Service) MembershipsOf(ctx context.Context, userID id.UserID) (map[id.RoomID]string, error) {
	return s.db.RoomsOfUser(ctx, userID)
}
