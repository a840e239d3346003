package accounts

// Account locking and suspension ("Account moderation" in content/client-server-api/_index.md):
// two reversible restrictions that a server admin puts on a local account with
// PUT /_matrix/client/v1/admin/lock/{userId} and /admin/suspend/{userId}
// (data/api/client-server/admin.yaml).
//
// A locked account's access tokens are refused with M_USER_LOCKED on every endpoint but the two
// logouts, and it cannot log in or refresh; its tokens are kept, so that unlocking restores the
// sessions. A suspended account keeps its sessions and may read, but may not add anything to
// rooms beyond what the spec says it should still be able to do there, nor change its profile.

import (
	"context"
	"errors"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// errLocked is the answer to every request of a locked account: 401 with soft_logout, so that
// the client keeps its session and its keys for when the lock is lifted.
func errLocked() error {
	return mxerr.UserLocked.WithMessage("This account has been locked")
}

// CheckNotLocked returns M_USER_LOCKED when r's account is locked. AuthenticateFrom applies it;
// callers of AuthenticateAllowLocked apply it to every endpoint except POST /logout and
// POST /logout/all, the only ones the spec lets a locked account call.
func (r Requester) CheckNotLocked() error {
	if r.Locked {
		return errLocked()
	}
	return nil
}

// CheckNotSuspended returns M_USER_SUSPENDED when r's account is suspended. Callers guard with it
// the actions the spec recommends refusing a suspended account outright: joining or knocking on
// rooms (accepting invites included), sending invites, and changing profile data; and the
// actions that would send such events, such as creating or upgrading a room (the creator joins
// it) and kicking or banning. action completes "You cannot … while your account is suspended".
func (r Requester) CheckNotSuspended(action string) error {
	if r.Suspended {
		return mxerr.UserSuspended.WithMessage("You cannot %s while your account is suspended", action)
	}
	return nil
}

// OutgoingEvent is what suspension looks at in a room event a user asks to send through
// /send, /state or /redact.
type OutgoingEvent struct {
	Type     string
	StateKey *string // nil for a message event
	// Membership is the content's membership, for an m.room.member event.
	Membership string
	// RedactedSender is the sender of the event that an m.room.redaction redacts; "" when the
	// event is unknown.
	RedactedSender id.UserID
}

// CheckSend returns M_USER_SUSPENDED when r's account is suspended and ev is not one that a
// suspended account may send. It may send two kinds of room event only, the two that the spec's
// list of what a suspended account should still be able to do needs: its own m.room.member
// leave (leaving a room, rejecting an invite) and the redaction of one of its own events.
// Everything else is refused: messages (the spec's "sending messages"), other state, joins and
// invites through /state, profile changes through a member event, and redactions of other
// users' events (refused by name in the spec), including those of events this server does not
// know.
func (r Requester) CheckSend(ev OutgoingEvent) error {
	if !r.Suspended {
		return nil
	}
	switch {
	case ev.Type == event.StateMember.Type && ev.StateKey != nil && *ev.StateKey == string(r.UserID) &&
		ev.Membership == string(event.MembershipLeave):
		return nil
	case ev.Type == event.EventRedaction.Type && ev.StateKey == nil && ev.RedactedSender == r.UserID:
		return nil
	case ev.Type == event.EventRedaction.Type:
		return r.CheckNotSuspended("redact the events of other users")
	case ev.Type == event.StateMember.Type:
		return r.CheckNotSuspended("change room memberships other than leaving")
	case ev.StateKey != nil:
		return r.CheckNotSuspended("send state events")
	}
	return r.CheckNotSuspended("send messages")
}

// Locked reports whether a local account is locked, for GET /admin/lock/{userId}.
func (s *Service) Locked(ctx context.Context, admin Requester, userID id.UserID) (bool, error) {
	u, err := s.moderationTarget(ctx, admin, userID, false)
	return u.Locked, err
}

// Suspended reports whether a local account is suspended, for GET /admin/suspend/{userId}.
func (s *Service) Suspended(ctx context.Context, admin Requester, userID id.UserID) (bool, error) {
	u, err := s.moderationTarget(ctx, admin, userID, false)
	return u.Suspended, err
}

// SetLocked locks or unlocks a local account, for PUT /admin/lock/{userId}. The account's
// tokens stay: the spec asks servers not to invalidate them, so that unlocking restores them.
func (s *Service) SetLocked(ctx context.Context, admin Requester, userID id.UserID, locked bool) error {
	if _, err := s.moderationTarget(ctx, admin, userID, true); err != nil {
		return err
	}
	if err := s.db.UpdateLocked(ctx, userID, locked); err != nil {
		return opError("set locked", err)
	}
	s.log.InfoContext(ctx, "account lock set", "target_user_id", userID, "locked", locked)
	return nil
}

// SetSuspended suspends or unsuspends a local account, for PUT /admin/suspend/{userId}.
func (s *Service) SetSuspended(ctx context.Context, admin Requester, userID id.UserID, suspended bool) error {
	if _, err := s.moderationTarget(ctx, admin, userID, true); err != nil {
		return err
	}
	if err := s.db.UpdateSuspended(ctx, userID, suspended); err != nil {
		return opError("set suspended", err)
	}
	s.log.InfoContext(ctx, "account suspension set", "target_user_id", userID, "suspended", suspended)
	return nil
}

// moderationTarget checks that admin may look up (or, when change is set, lock or suspend)
// userID, and returns the account, with the answers of data/api/client-server/admin.yaml:
//
//   - M_FORBIDDEN when admin is not a server admin, checked before any lookup "to prevent user
//     enumeration";
//   - M_INVALID_PARAM (400) for a user of another server;
//   - M_NOT_FOUND for an unknown or deactivated account;
//   - M_FORBIDDEN when the target is another server admin, or, for a change, admin themselves.
func (s *Service) moderationTarget(ctx context.Context, admin Requester, userID id.UserID, change bool) (storage.User, error) {
	if !admin.IsAdmin {
		return storage.User{}, mxerr.Forbidden.WithMessage("Requesting user is not a server administrator")
	}
	if _, server, err := userID.Parse(); err != nil || server != s.serverName {
		return storage.User{}, mxerr.InvalidParam.WithMessage("%s does not belong to the local server", userID)
	}
	u, err := s.db.UserByID(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Deactivated {
		return storage.User{}, mxerr.NotFound.WithMessage("User not found")
	} else if err != nil {
		return storage.User{}, opError("moderation target", err)
	}
	switch {
	case change && userID == admin.UserID:
		return storage.User{}, mxerr.Forbidden.WithMessage("You cannot lock or suspend your own account")
	case u.IsAdmin && userID != admin.UserID:
		return storage.User{}, mxerr.Forbidden.WithMessage("%s is a server administrator", userID)
	}
	return u, nil
}
