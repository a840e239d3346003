package accounts

import (
	"context"
	"errors"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// errBadLogin is the one answer to a wrong user ID or a wrong password, so that a login attempt
// does not tell which accounts exist.
var errBadLogin = mxerr.Forbidden.WithMessage("Invalid username or password")

// ResolveIdentifier turns the user identifier of /login or of an m.login.password UIA stage
// ("Identifier types" in content/client-server-api/_index.md) into a local user ID.
//
// m.id.user takes a localpart or a full user ID; the localpart is lower-cased, as Synapse does,
// since local user IDs have no upper case. legacyUser is the deprecated top-level "user" field,
// used when ident has no type. A user ID of another server comes back as it is and simply
// fails to log in.
//
// Causeway binds no third-party identifiers, so every m.id.thirdparty and m.id.phone identifier
// is unknown, which the spec answers with 403 M_FORBIDDEN. An empty user is M_MISSING_PARAM;
// an unknown identifier type is M_INVALID_PARAM.
func ResolveIdentifier(ident mautrix.UserIdentifier, legacyUser, serverName string) (id.UserID, error) {
	typ, user := ident.Type, ident.User
	if typ == "" {
		switch {
		case ident.Medium != "" || ident.Address != "":
			typ = mautrix.IdentifierTypeThirdParty
		default:
			typ, user = mautrix.IdentifierTypeUser, legacyUser
		}
	}
	switch typ {
	case mautrix.IdentifierTypeUser:
	case mautrix.IdentifierTypeThirdParty, mautrix.IdentifierTypePhone:
		return "", mxerr.Forbidden.WithMessage("No account is bound to this third-party identifier")
	default:
		return "", mxerr.InvalidParam.WithMessage("Unknown identifier type %q", typ)
	}
	if user == "" {
		return "", mxerr.MissingParam.WithMessage("The identifier has no user")
	}
	if !strings.HasPrefix(user, "@") {
		return id.NewUserID(strings.ToLower(user), serverName), nil
	}
	localpart, server, err := id.UserID(user).Parse()
	if err != nil {
		return "", mxerr.InvalidParam.WithMessage("Invalid user ID %q", user)
	}
	if server != serverName {
		return id.UserID(user), nil
	}
	return id.NewUserID(strings.ToLower(localpart), server), nil
}

// LoginParams describe a password login (data/api/client-server/login.yaml).
type LoginParams struct {
	UserID   id.UserID
	Password string
	// DeviceID is the device to log in: an existing device of the user is reused, and its
	// earlier tokens are revoked; a new ID creates a device; empty means a new random one.
	DeviceID id.DeviceID
	// InitialDeviceDisplayName names a new device; it is ignored for an existing one.
	InitialDeviceDisplayName string
	// IP is the client's address, recorded on the device.
	IP string
	// RefreshToken says the client supports refresh tokens.
	RefreshToken bool
}

// Login checks a password and logs the user in on a device.
//
// A wrong user ID or password is M_FORBIDDEN with the same message either way, and takes as
// long. A deactivated account is M_USER_DEACTIVATED: its password was erased, so there is
// nothing to check, and the spec prefers the specific code. A locked account is M_USER_LOCKED,
// once the password is right, so that the answer tells nothing to whoever lacks it.
func (s *Service) Login(ctx context.Context, p LoginParams) (Session, error) {
	if err := checkDeviceID(p.DeviceID); err != nil {
		return Session{}, err
	}
	u, err := s.db.UserByID(ctx, p.UserID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Session{}, opError("login", err)
	}
	if u.Deactivated {
		return Session{}, mxerr.UserDeactivated.WithMessage("This account has been deactivated")
	}
	ok, stale, err := s.matchPassword(ctx, u.PasswordHash, p.Password)
	if err != nil {
		return Session{}, opError("login", err)
	}
	if !ok {
		return Session{}, errBadLogin
	}
	var rehash string
	if stale {
		// Upgrade the hash to the current parameters while we know the password.
		if rehash, err = s.hashPassword(ctx, p.Password); err != nil {
			return Session{}, opError("login", err)
		}
	}

	return s.startSession(ctx, p, rehash)
}

// LoginVerified logs in a user whose identity the caller established by other means than a
// password: an application service's token for a user in its namespace
// (m.login.application_service). The account must exist, be active and not be locked.
func (s *Service) LoginVerified(ctx context.Context, p LoginParams) (Session, error) {
	if err := checkDeviceID(p.DeviceID); err != nil {
		return Session{}, err
	}
	return s.startSession(ctx, p, "")
}

// startSession logs p.UserID in on a device, replacing the password hash with rehash when set.
func (s *Service) startSession(ctx context.Context, p LoginParams, rehash string) (Session, error) {
	var sess Session
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		// Read again in the transaction: a deactivation may have committed meanwhile.
		u, err := tx.UserByID(ctx, p.UserID)
		if errors.Is(err, storage.ErrNotFound) {
			return errBadLogin
		}
		if err != nil {
			return err
		}
		if u.Deactivated {
			return mxerr.UserDeactivated.WithMessage("This account has been deactivated")
		}
		if u.Locked {
			return errLocked()
		}
		if rehash != "" {
			if err := tx.UpdatePasswordHash(ctx, u.ID, rehash); err != nil {
				return err
			}
		}
		deviceID := p.DeviceID
		if deviceID == "" {
			deviceID = newDeviceID()
		} else if _, err := tx.DeviceByID(ctx, u.ID, deviceID); err == nil {
			if err := notDehydrated(ctx, tx, u.ID, deviceID); err != nil {
				return err
			}
			// "If the client sets the device_id, the server will invalidate any access and
			// refresh tokens previously assigned to that device" ("Relationship between access
			// tokens and devices" in content/client-server-api/_index.md).
			if err := tx.DeleteTokensOfDevice(ctx, u.ID, deviceID); err != nil {
				return err
			}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		err = tx.UpsertDevice(ctx, storage.Device{UserID: u.ID, DeviceID: deviceID,
			DisplayName: truncateDisplayName(p.InitialDeviceDisplayName), CreatedTS: s.nowMS(), LastSeenIP: p.IP})
		if err != nil {
			return err
		}
		sess, err = s.issueTokens(ctx, tx, u.ID, deviceID, p.RefreshToken)
		return err
	})
	if err != nil {
		return Session{}, opError("login", err)
	}
	s.forgetDevices(sess.UserID, sess.DeviceID)
	return sess, nil
}

// notDehydrated refuses to log in on the user's dehydrated device (MSC3814): no one is ever
// logged in on it, and its owner reads its messages without logging in on it.
func notDehydrated(ctx context.Context, tx *storage.Tx, userID id.UserID, deviceID id.DeviceID) error {
	d, err := tx.DehydratedDeviceOf(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.DeviceID == deviceID {
		return mxerr.InvalidParam.WithMessage("%s is your dehydrated device, which cannot be logged in on", deviceID)
	}
	return nil
}

// Logout ends the session of the requester's access token: its device is deleted, and with it
// every token and key of the device (data/api/client-server/logout.yaml), and the change of the
// user's device list is recorded. A device already gone is no error.
func (s *Service) Logout(ctx context.Context, r Requester) error {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		return tx.DeleteDevice(ctx, r.UserID, r.DeviceID, s.nowMS())
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return opError("logout", err)
	}
	s.forgetDevices(r.UserID, r.DeviceID)
	if err == nil {
		s.devicesChanged(ctx, r.UserID)
	}
	return nil
}

// LogoutAll deletes every device of the user, and so every token (POST /logout/all).
func (s *Service) LogoutAll(ctx context.Context, userID id.UserID) error {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		return tx.DeleteAllDevices(ctx, userID, s.nowMS())
	})
	if err != nil {
		return opError("logout all", err)
	}
	s.forgetDevices(userID)
	s.devicesChanged(ctx, userID)
	return nil
}
