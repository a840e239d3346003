package rooms

import (
	"context"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// MembershipRequest is a membership change asked for by Sender about Target.
type MembershipRequest struct {
	Sender    id.UserID
	Target    id.UserID
	Reason    string
	IsDirect  bool // invites only
	TxnDevice id.DeviceID
}

// Join makes user a member of the room. Joining again while joined refreshes the member event
// only when the profile changed.
func (s *Service) Join(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	// The user names the room to enter, so an unknown one is not found, as in Synapse, rather
	// than forbidden as for other writes (see openRoom).
	if _, err := s.RoomVersion(ctx, roomID); errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.NotFound.WithMessage("unknown room %s", roomID)
	} else if err != nil {
		return nil, err
	}
	req.Target = req.Sender
	return s.changeMembership(ctx, roomID, req, opOther, event.MembershipJoin)
}

// Knock asks to join a room whose join rule is knock or knock_restricted (room versions 7 and
// later); the auth rules refuse it elsewhere. A member with the power to invite then invites
// the knocker, or not.
func (s *Service) Knock(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	if _, err := s.RoomVersion(ctx, roomID); errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.NotFound.WithMessage("unknown room %s", roomID)
	} else if err != nil {
		return nil, err
	}
	req.Target = req.Sender
	return s.changeMembership(ctx, roomID, req, opOther, event.MembershipKnock)
}

// Invite invites Target on behalf of Sender.
func (s *Service) Invite(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	if req.Target.Homeserver() != s.serverName {
		return nil, mxerr.Forbidden.WithMessage("inviting users of other servers needs federation, which this server does not do yet")
	}
	return s.changeMembership(ctx, roomID, req, opOther, event.MembershipInvite)
}

// Leave leaves the room or rejects an invite.
func (s *Service) Leave(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	req.Target = req.Sender
	return s.changeMembership(ctx, roomID, req, opOther, event.MembershipLeave)
}

// Kick removes Target from the room.
func (s *Service) Kick(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	return s.changeMembership(ctx, roomID, req, opKick, event.MembershipLeave)
}

// Ban bans Target from the room.
func (s *Service) Ban(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	return s.changeMembership(ctx, roomID, req, opOther, event.MembershipBan)
}

// Unban lifts Target's ban, leaving them with membership leave.
func (s *Service) Unban(ctx context.Context, roomID id.RoomID, req MembershipRequest) (*storage.Event, error) {
	return s.changeMembership(ctx, roomID, req, opUnban, event.MembershipLeave)
}

// membershipOp names the endpoint behind a membership change where the target membership alone
// does not tell (kick and unban both produce leave).
type membershipOp int

const (
	opOther membershipOp = iota
	opKick
	opUnban
)

func (s *Service) changeMembership(ctx context.Context, roomID id.RoomID, req MembershipRequest, op membershipOp, membership event.Membership) (*storage.Event, error) {
	return s.inRoom(ctx, roomID, func(rt *roomTx) (*storage.Event, error) {
		key := storage.StateKey{Type: event.StateMember.Type, StateKey: string(req.Target)}
		current, err := rt.stateContent(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := checkTransition(op, req, current, membership); err != nil {
			return nil, err
		}
		content := map[string]any{"membership": membership}
		if req.Reason != "" {
			content["reason"] = req.Reason
		}
		if membership == event.MembershipJoin {
			authoriser, err := s.joinAuthoriser(ctx, rt, req.Target, current)
			if err != nil {
				return nil, err
			}
			if authoriser != "" {
				content["join_authorised_via_users_server"] = authoriser
			}
		}
		if req.IsDirect && membership == event.MembershipInvite {
			content["is_direct"] = true
		}
		raw, err := s.memberContent(ctx, rt.tx, req.Target, mustJSON(content))
		if err != nil {
			return nil, err
		}
		if membership == event.MembershipJoin && current != nil && sameJSON(current, raw) {
			evID, _ := rt.stateEvent(ctx, key)
			return rt.tx.EventByID(ctx, evID)
		}
		stateKey := string(req.Target)
		ev, err := rt.append(ctx, ProtoEvent{Type: event.StateMember.Type, StateKey: &stateKey, Sender: req.Sender, Content: raw, TxnDevice: req.TxnDevice})
		if err != nil {
			return nil, err
		}
		if membership == event.MembershipJoin {
			if err := rt.tx.RememberRoom(ctx, req.Target, roomID); err != nil {
				return nil, err
			}
		}
		return ev, nil
	})
}

// joinAuthoriser returns, for a join to a restricted room (join rule restricted or
// knock_restricted) by a user who is not invited and not joined, a local member who may invite
// and so may authorise the join, when the user is joined to one of the rooms the join rule
// allows (content/client-server-api/_index.md, "Restricted rooms"). It returns "" otherwise,
// and the auth rules decide.
func (s *Service) joinAuthoriser(ctx context.Context, rt *roomTx, userID id.UserID, current jsontext.Value) (id.UserID, error) {
	var cur struct {
		Membership event.Membership `json:"membership"`
	}
	if current != nil {
		json.Unmarshal(current, &cur)
	}
	if cur.Membership == event.MembershipJoin || cur.Membership == event.MembershipInvite {
		return "", nil
	}
	rules, err := rt.stateContent(ctx, storage.StateKey{Type: event.StateJoinRules.Type})
	if err != nil || rules == nil {
		return "", err
	}
	var jr struct {
		JoinRule event.JoinRule `json:"join_rule"`
		Allow    []struct {
			Type   string    `json:"type"`
			RoomID id.RoomID `json:"room_id"`
		} `json:"allow"`
	}
	if json.Unmarshal(rules, &jr) != nil || jr.JoinRule != event.JoinRuleRestricted && jr.JoinRule != event.JoinRuleKnockRestricted {
		return "", nil
	}
	memberships, err := s.db.RoomsOfUser(ctx, userID)
	if err != nil {
		return "", err
	}
	allowed := false
	for _, a := range jr.Allow {
		allowed = allowed || a.Type == "m.room_membership" && memberships[a.RoomID] == string(event.MembershipJoin)
	}
	if !allowed {
		return "", nil
	}
	return s.localInviter(ctx, rt.room.ID)
}

// localInviter returns a local member of a room with the power to invite, or "".
func (s *Service) localInviter(ctx context.Context, roomID id.RoomID) (id.UserID, error) {
	pl, err := s.CurrentPowerLevels(ctx, roomID)
	if err != nil {
		return "", err
	}
	members, err := s.db.RoomMembers(ctx, roomID, string(event.MembershipJoin))
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if m.Homeserver() == s.serverName && pl.GetUserLevel(m) >= pl.Invite() {
			return m, nil
		}
	}
	return "", nil
}

// checkTransition gives the specific errors clients expect before the auth rules run; the auth
// rules remain the authority on everything else.
func checkTransition(op membershipOp, req MembershipRequest, current jsontext.Value, membership event.Membership) error {
	var cur struct {
		Membership event.Membership `json:"membership"`
	}
	if current != nil {
		json.Unmarshal(current, &cur)
	}
	switch {
	case membership == event.MembershipLeave && req.Sender == req.Target && cur.Membership != event.MembershipJoin && cur.Membership != event.MembershipInvite && cur.Membership != event.MembershipKnock:
		return mxerr.Forbidden.WithMessage("%s is not in the room", req.Target)
	case op == opUnban && cur.Membership != event.MembershipBan:
		// The spec's own example of M_BAD_STATE (content/client-server-api/_index.md, "Common error codes").
		return mxerr.BadState.WithMessage("%s is not banned", req.Target)
	case op == opKick && cur.Membership != event.MembershipJoin && cur.Membership != event.MembershipInvite && cur.Membership != event.MembershipKnock:
		return mxerr.Forbidden.WithMessage("%s is not in the room", req.Target)
	case membership == event.MembershipInvite && cur.Membership == event.MembershipJoin:
		return mxerr.Forbidden.WithMessage("%s is already in the room", req.Target)
	case membership == event.MembershipInvite && cur.Membership == event.MembershipBan:
		return mxerr.Forbidden.WithMessage("%s is banned from the room", req.Target)
	}
	return nil
}

// memberContent adds the target's display name and avatar to the content of a join, invite or
// knock when the target is a local user and the content does not set them.
func (s *Service) memberContent(ctx context.Context, db interface {
	UserByID(context.Context, id.UserID) (storage.User, error)
}, target id.UserID, content jsontext.Value) (jsontext.Value, error) {
	var m map[string]jsontext.Value
	if err := json.Unmarshal(content, &m); err != nil {
		return nil, mxerr.BadJSON.WithMessage("member content must be an object")
	}
	var membership string
	json.Unmarshal(m["membership"], &membership)
	if membership != string(event.MembershipJoin) && membership != string(event.MembershipInvite) && membership != string(event.MembershipKnock) {
		return content, nil
	}
	user, err := db.UserByID(ctx, target)
	if errors.Is(err, storage.ErrNotFound) {
		return content, nil
	} else if err != nil {
		return nil, err
	}
	if _, ok := m["displayname"]; !ok && user.DisplayName != "" {
		m["displayname"] = mustJSON(user.DisplayName)
	}
	if _, ok := m["avatar_url"]; !ok && user.AvatarURL != "" {
		m["avatar_url"] = mustJSON(user.AvatarURL)
	}
	return json.Marshal(m, json.Deterministic(true))
}

func sameJSON(a, b jsontext.Value) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ra, _ := json.Marshal(x, json.Deterministic(true))
	rb, _ := json.Marshal(y, json.Deterministic(true))
	return string(ra) == string(rb)
}

// UpdateProfile sends a fresh join event carrying the user's new display name and avatar into
// every room the user is joined to, as clients render names from member events.
func (s *Service) UpdateProfile(ctx context.Context, userID id.UserID) error {
	rooms, err := s.db.RoomsOfUser(ctx, userID)
	if err != nil {
		return err
	}
	for roomID, membership := range rooms {
		if membership != string(event.MembershipJoin) {
			continue
		}
		if _, err := s.Join(ctx, roomID, MembershipRequest{Sender: userID}); err != nil {
			s.log.WarnContext(ctx, "profile update not sent to room", "room_id", roomID, "user_id", userID, "err", err)
		}
	}
	return nil
}
