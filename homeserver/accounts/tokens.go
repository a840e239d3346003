package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Token prefixes make a leaked token recognisable to secret scanners and to people reading logs.
const (
	AccessTokenPrefix  = "cwa_"
	RefreshTokenPrefix = "cwr_"
)

const (
	// touchInterval is how often, at most, a device's last-seen time is written.
	touchInterval = time.Minute
	// sweepInterval is how often the in-memory device-use map drops entries that are no longer
	// useful, which bounds it by the number of devices active in the last sweepInterval.
	sweepInterval = 10 * time.Minute
	// maxRefreshAttempts bounds the retries of a refresh that lost a race with another refresh
	// of the same token.
	maxRefreshAttempts = 5
)

// Requester is who made an authenticated request.
type Requester struct {
	UserID   id.UserID
	DeviceID id.DeviceID
	IsAdmin  bool
	IsGuest  bool
	// Locked and Suspended are the account's restrictions (lock.go). AuthenticateFrom refuses a
	// locked account; AuthenticateAllowLocked returns it with Locked set for the caller to check.
	Locked    bool
	Suspended bool
	// AppserviceID is the appservice whose as_token made the request; "" for access tokens,
	// even those of users an appservice registered: only the as_token carries an
	// appservice's privileges (timestamps, exemptions, its directory).
	AppserviceID string
	// TokenHash identifies the access token used, without being it.
	TokenHash string
}

// randomToken returns prefix followed by 32 random bytes in unpadded base64url.
func randomToken(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how a token is stored: the hex SHA-256 of the whole token. Tokens carry 256
// random bits, so a fast hash is enough; a leaked database leaks no usable token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomString returns n characters drawn uniformly from alphabet (at most 256 characters).
func randomString(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet) // reject bytes that would bias the draw
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// newDeviceID returns 10 random upper-case letters, as Synapse makes them. Within one user's
// devices (the key of the devices table) a collision is a 1 in 26^10 event.
func newDeviceID() id.DeviceID {
	return id.DeviceID(randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10))
}

// issueTokens stores a new access token, and a refresh token when withRefresh, for an existing
// device inside tx.
func (s *Service) issueTokens(ctx context.Context, tx *storage.Tx, userID id.UserID, deviceID id.DeviceID, withRefresh bool) (Session, error) {
	now := s.now()
	sess := Session{UserID: userID, DeviceID: deviceID, AccessToken: randomToken(AccessTokenPrefix)}
	refreshHash := ""
	if withRefresh {
		sess.RefreshToken = randomToken(RefreshTokenPrefix)
		refreshHash = hashToken(sess.RefreshToken)
		sess.ExpiresIn = s.refreshAccessLifetime
		if err := tx.InsertRefreshToken(ctx, refreshHash, userID, deviceID, now.UnixMilli()); err != nil {
			return Session{}, err
		}
	} else {
		sess.ExpiresIn = s.accessLifetime
	}
	var expiresTS int64
	if sess.ExpiresIn > 0 {
		expiresTS = now.Add(sess.ExpiresIn).UnixMilli()
	}
	if err := tx.InsertAccessToken(ctx, hashToken(sess.AccessToken), userID, deviceID, refreshHash, now.UnixMilli(), expiresTS); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// Authenticate resolves an access token, like AuthenticateFrom without a client address: the
// device's last_seen_ip stays as it was.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Requester, error) {
	return s.AuthenticateFrom(ctx, accessToken, "")
}

// AuthenticateFrom resolves an access token as AuthenticateAllowLocked does, and refuses the
// token of a locked account with M_USER_LOCKED ("Account locking" in
// content/client-server-api/_index.md).
func (s *Service) AuthenticateFrom(ctx context.Context, accessToken, ip string) (Requester, error) {
	req, err := s.AuthenticateAllowLocked(ctx, accessToken, ip)
	if err != nil {
		return Requester{}, err
	}
	if err := req.CheckNotLocked(); err != nil {
		return Requester{}, err
	}
	return req, nil
}

// AuthenticateAllowLocked resolves an access token ("Using access tokens" in
// content/client-server-api/_index.md), a locked account's too, with Requester.Locked set: it is
// for the endpoints that a locked account may still call, and for callers that apply
// Requester.CheckNotLocked themselves. ip is the client's address, recorded as the device's
// last_seen_ip.
//
// It runs one query per request. Two writes happen rarely: the device's last-seen time at most
// once a minute per device, and, at the first use of an access token issued by a refresh, the
// revocation of the refresh token exchanged for it (see noteUse).
//
// An unknown or revoked token is M_UNKNOWN_TOKEN; an expired one is M_UNKNOWN_TOKEN with
// soft_logout, so the client refreshes it or logs in again on the same device. A token of a
// deactivated account is M_UNKNOWN_TOKEN without soft_logout, as in Synapse: the spec reserves
// M_USER_DEACTIVATED for endpoints that prove authentication (login), and the session is gone
// for good. (Deactivate deletes the tokens anyway; this covers a race with it.)
func (s *Service) AuthenticateAllowLocked(ctx context.Context, accessToken, ip string) (Requester, error) {
	hash := hashToken(accessToken)
	t, err := s.db.AccessTokenByHash(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return Requester{}, mxerr.UnknownToken.WithMessage("Unknown access token")
	}
	if err != nil {
		return Requester{}, fmt.Errorf("authenticate: %w", err)
	}
	if t.Deactivated {
		return Requester{}, mxerr.UnknownToken.WithMessage("This account has been deactivated")
	}
	if t.ExpiresTS != 0 && s.nowMS() >= t.ExpiresTS {
		return Requester{}, mxerr.UnknownTokenSoftLogout("Access token has expired")
	}
	s.noteUse(ctx, t, ip)
	return Requester{
		UserID:    t.UserID,
		DeviceID:  t.DeviceID,
		IsAdmin:   t.IsAdmin,
		IsGuest:   t.IsGuest,
		Locked:    t.Locked,
		Suspended: t.Suspended,
		TokenHash: hash,
	}, nil
}

type deviceKey struct {
	user   id.UserID
	device id.DeviceID
}

// deviceUse is what this process remembers of a device's recent requests.
type deviceUse struct {
	touched  time.Time // last write of last_seen_ts
	consumed string    // refresh-token hash whose predecessor this process has revoked
}

// noteUse does the writes that a request's authentication calls for, rarely:
//
//   - the device's last_seen_ts/ip, at most once per touchInterval per device;
//   - the revocation of the refresh token that was exchanged for this token's refresh token:
//     "the old refresh token remains valid until the new access token or refresh token is
//     used" (data/api/client-server/refresh.yaml). This runs once per refreshed token per
//     process; running it again (another instance, a restart) deletes nothing.
//
// Failures are logged, not returned: the request itself is authenticated. A failed revocation
// is retried at the token's next use.
func (s *Service) noteUse(ctx context.Context, t storage.AccessToken, ip string) {
	key := deviceKey{t.UserID, t.DeviceID}
	now := s.now()
	s.mu.Lock()
	u := s.used[key]
	touch := now.Sub(u.touched) >= touchInterval
	consume := t.RefreshTokenHash != "" && u.consumed != t.RefreshTokenHash
	if touch {
		u.touched = now
	}
	if consume {
		u.consumed = t.RefreshTokenHash
	}
	s.used[key] = u
	if now.Sub(s.lastSweep) >= sweepInterval {
		s.lastSweep = now
		for k, v := range s.used {
			if now.Sub(v.touched) >= sweepInterval {
				delete(s.used, k)
			}
		}
	}
	s.mu.Unlock()

	if consume {
		if _, err := s.db.DeleteRefreshTokenReplacedBy(ctx, t.RefreshTokenHash); err != nil {
			s.log.WarnContext(ctx, "revoke replaced refresh token", "user_id", t.UserID, "device_id", t.DeviceID, "err", err)
			s.mu.Lock()
			if u := s.used[key]; u.consumed == t.RefreshTokenHash {
				u.consumed = ""
				s.used[key] = u
			}
			s.mu.Unlock()
		}
	}
	if touch {
		if err := s.db.TouchDevice(ctx, t.UserID, t.DeviceID, now.UnixMilli(), ip); err != nil {
			s.log.DebugContext(ctx, "update device last seen", "user_id", t.UserID, "device_id", t.DeviceID, "err", err)
		}
	}
}

// forgetDevices drops what this process remembers of the given devices (all of the user's when
// none are given), after they are deleted.
func (s *Service) forgetDevices(userID id.UserID, deviceIDs ...id.DeviceID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(deviceIDs) == 0 {
		for k := range s.used {
			if k.user == userID {
				delete(s.used, k)
			}
		}
		return
	}
	for _, d := range deviceIDs {
		delete(s.used, deviceKey{userID, d})
	}
}

// Refresh exchanges a refresh token for a new access token and refresh token, bound to the same
// device (data/api/client-server/refresh.yaml).
//
// The old refresh token stays usable until the new access token or refresh token is first used,
// so a client that lost the response can repeat the refresh; a repeat revokes the pair the
// earlier attempt issued. An unknown, revoked or superseded refresh token is M_UNKNOWN_TOKEN
// without soft_logout: the session is over and the client must log in afresh. A locked account
// "cannot obtain a new access token until the account has been unlocked" ("Soft logout" in
// content/client-server-api/_index.md): M_USER_LOCKED, and the refresh token stays usable.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	hash := hashToken(refreshToken)
	for attempt := 1; ; attempt++ {
		var sess Session
		err := s.db.InTx(ctx, func(tx *storage.Tx) error {
			old, err := tx.RefreshTokenByHash(ctx, hash)
			if errors.Is(err, storage.ErrNotFound) {
				return mxerr.UnknownToken.WithMessage("Unknown refresh token")
			}
			if err != nil {
				return err
			}
			if err := s.checkNotLockedTx(ctx, tx, old.UserID); err != nil {
				return err
			}
			sess, err = s.issueTokens(ctx, tx, old.UserID, old.DeviceID, true)
			if err != nil {
				return err
			}
			return tx.ReplaceRefreshToken(ctx, old, hashToken(sess.RefreshToken))
		})
		if errors.Is(err, storage.ErrConflict) && attempt < maxRefreshAttempts {
			continue // a concurrent refresh of the same token won; look at the token again
		}
		if err != nil {
			return Session{}, opError("refresh", err)
		}
		return sess, nil
	}
}

// checkNotLockedTx returns M_USER_LOCKED when userID's account is locked.
func (s *Service) checkNotLockedTx(ctx context.Context, tx *storage.Tx, userID id.UserID) error {
	u, err := tx.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.Locked {
		return errLocked()
	}
	return nil
}
