package accounts

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// OpenIDTokenPrefix starts every OpenID token, as the other prefixes start theirs.
const OpenIDTokenPrefix = "cwo_"

// openIDTokenLifetime is how long an OpenID token may be checked.
const openIDTokenLifetime = time.Hour

// OpenIDToken is a token a user hands to a third party to prove who they are
// (data/api/client-server/openid.yaml).
type OpenIDToken struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	MatrixServerName string `json:"matrix_server_name"`
	ExpiresIn        int64  `json:"expires_in"` // seconds
}

// NewOpenIDToken issues an OpenID token for userID, valid for an hour.
func (s *Service) NewOpenIDToken(ctx context.Context, userID id.UserID) (OpenIDToken, error) {
	token := randomToken(OpenIDTokenPrefix)
	now := time.Now()
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		return tx.InsertOpenIDToken(ctx, hashToken(token), userID, now.UnixMilli(), now.Add(openIDTokenLifetime).UnixMilli())
	})
	if err != nil {
		return OpenIDToken{}, err
	}
	return OpenIDToken{AccessToken: token, TokenType: "Bearer", MatrixServerName: s.serverName, ExpiresIn: int64(openIDTokenLifetime.Seconds())}, nil
}

// OpenIDUser returns whom an OpenID token that has not expired was issued to; any other token
// is M_UNKNOWN_TOKEN (data/api/server-server/openid.yaml).
func (s *Service) OpenIDUser(ctx context.Context, token string) (id.UserID, error) {
	userID, err := s.db.OpenIDTokenUser(ctx, hashToken(token), time.Now().UnixMilli())
	if errors.Is(err, storage.ErrNotFound) {
		return "", mxerr.UnknownToken.WithMessage("unknown or expired OpenID token")
	}
	return userID, err
}
