package accounts

import (
	"context"
	"errors"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// CheckPassword checks the user's password, for the m.login.password stage of user-interactive
// auth. A wrong password (or an account without one) is M_FORBIDDEN, which the caller puts in
// the 401 UIA response; a deactivated account is M_USER_DEACTIVATED.
func (s *Service) CheckPassword(ctx context.Context, userID id.UserID, password string) error {
	u, err := s.db.UserByID(ctx, userID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return opError("check password", err)
	}
	if u.Deactivated {
		return mxerr.UserDeactivated.WithMessage("This account has been deactivated")
	}
	ok, _, err := s.matchPassword(ctx, u.PasswordHash, password)
	if err != nil {
		return opError("check password", err)
	}
	if !ok {
		return mxerr.Forbidden.WithMessage("Invalid password")
	}
	return nil
}

// ChangePassword sets a new password (data/api/client-server/password_management.yaml). With
// logoutDevices (the endpoint's default is true) every other device of the user is deleted, and
// so its tokens; keepDevice, the device that made the request, stays logged in, as the spec
// asks ("SHOULD NOT revoke the access token provided in the request"). An empty keepDevice
// (a request made without an access token) keeps none.
func (s *Service) ChangePassword(ctx context.Context, userID id.UserID, newPassword string, logoutDevices bool, keepDevice id.DeviceID) error {
	if err := checkNewPassword(newPassword); err != nil {
		return err
	}
	hash, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return opError("change password", err)
	}
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if u.Deactivated {
			return mxerr.UserDeactivated.WithMessage("This account has been deactivated")
		}
		if err := tx.UpdatePasswordHash(ctx, userID, hash); err != nil {
			return err
		}
		if logoutDevices {
			_, err = tx.DeleteDevicesExcept(ctx, userID, keepDevice, s.nowMS())
		}
		return err
	})
	if err != nil {
		return opError("change password", err)
	}
	if logoutDevices {
		s.forgetDevices(userID) // the kept device's entry is rebuilt at its next request
		s.devicesChanged(ctx, userID)
	}
	s.log.InfoContext(ctx, "password changed", "user_id", userID, "logout_devices", logoutDevices)
	return nil
}

// Deactivate deactivates an account in one transaction: it is marked deactivated, its password
// and profile are erased, and every device and token is deleted. It does not leave the user's
// rooms, reject invites or delete device keys: the caller does that with the rooms and keys
// services, after this returns (data/api/client-server/account_deactivation.yaml). Deactivating
// a deactivated account changes nothing more and is no error.
func (s *Service) Deactivate(ctx context.Context, userID id.UserID) error {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.DeactivateUser(ctx, userID); err != nil {
			return err
		}
		return tx.DeleteAllDevices(ctx, userID, s.nowMS())
	})
	if err != nil {
		return opError("deactivate", err)
	}
	s.forgetDevices(userID)
	s.devicesChanged(ctx, userID)
	s.log.InfoContext(ctx, "deactivated account", "user_id", userID)
	return nil
}
