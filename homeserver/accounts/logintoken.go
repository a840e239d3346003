package accounts

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// LoginTokenPrefix starts every login token.
const LoginTokenPrefix = "cwl_"

// LoginTokenLifetime is how long a login token may be used: long enough to show it as a QR
// code and scan it, short enough to be worthless soon after.
const LoginTokenLifetime = 2 * time.Minute

// NewLoginToken issues a single-use token with which another device logs userID in
// (data/api/client-server/login_token.yaml).
func (s *Service) NewLoginToken(ctx context.Context, userID id.UserID) (string, error) {
	token := randomToken(LoginTokenPrefix)
	now := time.Now()
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		return tx.InsertLoginToken(ctx, hashToken(token), userID, now.UnixMilli(), now.Add(LoginTokenLifetime).UnixMilli())
	})
	return token, err
}

// LoginWithToken logs in, on the device p describes, the user a login token was issued to.
// The token is used up even when the login then fails; an unknown, used or expired token is
// M_FORBIDDEN, as a wrong password is.
func (s *Service) LoginWithToken(ctx context.Context, token string, p LoginParams) (Session, error) {
	var userID id.UserID
	var expiresTS int64
	err := s.db.InTx(ctx, func(tx *storage.Tx) (err error) {
		userID, expiresTS, err = tx.TakeLoginToken(ctx, hashToken(token))
		return err
	})
	if errors.Is(err, storage.ErrNotFound) || err == nil && expiresTS <= time.Now().UnixMilli() {
		return Session{}, mxerr.Forbidden.WithMessage("invalid or expired login token")
	} else if err != nil {
		return Session{}, opError("login", err)
	}
	u, err := s.db.UserByID(ctx, userID)
	if err != nil {
		return Session{}, opError("login", err)
	}
	if u.Deactivated {
		return Session{}, mxerr.UserDeactivated.WithMessage("This account has been deactivated")
	}
	p.UserID = userID
	return s.LoginVerified(ctx, p)
}
