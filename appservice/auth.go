package appservice

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Authenticate resolves a request's token as an appservice's as_token. ok is false when the
// token is no appservice's. userID and deviceID are the request's masquerading parameters
// ("" when absent): an appservice acts as its sender user by default, as any user its
// namespace covers, or as a user who granted it the right (double puppeting), and as one of
// that user's devices (content/application-service-api.md, "Identity assertion").
func (s *Service) Authenticate(ctx context.Context, token string, userID id.UserID, deviceID id.DeviceID) (accounts.Requester, bool, error) {
	reg, ok := s.registry.ByASToken(token)
	if !ok {
		return accounts.Requester{}, false, nil
	}
	serverName := s.registry.ServerName()
	if userID == "" {
		userID = reg.SenderUserID(serverName)
	}
	if !reg.OwnsUser(userID, serverName) {
		granted, err := s.db.HasAppserviceGrant(ctx, userID, reg.ID)
		if err != nil {
			return accounts.Requester{}, true, err
		}
		if !granted {
			return accounts.Requester{}, true, mxerr.Forbidden.WithMessage("Application service %s cannot masquerade as %s", reg.ID, userID)
		}
	}
	user, err := s.db.UserByID(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) && userID == reg.SenderUserID(serverName) {
		// A registration added by a reload: its sender user is created on first use.
		if err = s.EnsureSenderUsers(ctx); err == nil {
			user, err = s.db.UserByID(ctx, userID)
		}
	}
	if errors.Is(err, storage.ErrNotFound) || err == nil && user.Deactivated {
		return accounts.Requester{}, true, mxerr.Forbidden.WithMessage("Application service has not registered %s", userID)
	} else if err != nil {
		return accounts.Requester{}, true, err
	}
	if deviceID != "" {
		if _, err := s.db.DeviceByID(ctx, userID, deviceID); errors.Is(err, storage.ErrNotFound) {
			return accounts.Requester{}, true, mxerr.UnknownDevice.WithMessage("%s has no device %s", userID, deviceID)
		} else if err != nil {
			return accounts.Requester{}, true, err
		}
	}
	// The masqueraded account's lock and suspension bind the appservice as they bind the user:
	// the caller refuses a locked one, and a suspended one may do what the user may.
	return accounts.Requester{UserID: userID, DeviceID: deviceID, IsAdmin: user.IsAdmin, Locked: user.Locked,
		Suspended: user.Suspended, AppserviceID: reg.ID}, true, nil
}

// RateLimited reports whether requests of the appservice are rate limited (rate_limited in its
// registration; true by default, as the spec says).
func (s *Service) RateLimited(appserviceID string) bool {
	reg, ok := s.registry.ByID(appserviceID)
	return !ok || reg.IsRateLimited()
}

// ManagesDevices reports whether the appservice opted in to managing its users' devices
// (MSC4190, io.element.msc4190 in its registration).
func (s *Service) ManagesDevices(appserviceID string) bool {
	reg, ok := s.registry.ByID(appserviceID)
	return ok && reg.MSC4190
}

// CheckUserID refuses, with M_EXCLUSIVE, a user ID that an appservice other than appserviceID
// holds exclusively ("" for an ordinary client's registration).
func (s *Service) CheckUserID(userID id.UserID, appserviceID string) error {
	if owner, ok := s.registry.ExclusiveUserOwner(userID); ok && owner.ID != appserviceID {
		return mxerr.Exclusive.WithMessage("%s is reserved by an application service", userID)
	}
	return nil
}

// CheckAlias refuses, with M_EXCLUSIVE, an alias that an appservice other than appserviceID
// holds exclusively.
func (s *Service) CheckAlias(alias id.RoomAlias, appserviceID string) error {
	if owner, ok := s.registry.ExclusiveAliasOwner(alias); ok && owner.ID != appserviceID {
		return mxerr.Exclusive.WithMessage("%s is reserved by an application service", alias)
	}
	return nil
}

// CheckRegistration says whether the appservice may register localpart: it must lie in its
// user namespace (data/api/client-server/registration.yaml, m.login.application_service).
func (s *Service) CheckRegistration(appserviceID string, userID id.UserID) error {
	reg, ok := s.registry.ByID(appserviceID)
	if !ok || !reg.OwnsUser(userID, s.registry.ServerName()) {
		return mxerr.Exclusive.WithMessage("%s is not in the namespace of application service %s", userID, appserviceID)
	}
	return nil
}

// Grant records that userID lets the appservice act as them; Revoke ends it; Grants lists them.
func (s *Service) Grant(ctx context.Context, userID id.UserID, appserviceID string, nowTS int64) error {
	if _, ok := s.registry.ByID(appserviceID); !ok {
		return mxerr.NotFound.WithMessage("no application service %s", appserviceID)
	}
	return s.db.InsertAppserviceGrant(ctx, userID, appserviceID, nowTS)
}

// Revoke withdraws a grant; M_NOT_FOUND when there was none.
func (s *Service) Revoke(ctx context.Context, userID id.UserID, appserviceID string) error {
	err := s.db.DeleteAppserviceGrant(ctx, userID, appserviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound.WithMessage("%s has not granted %s anything", userID, appserviceID)
	}
	return err
}

// Grants lists the appservices userID lets act as them.
func (s *Service) Grants(ctx context.Context, userID id.UserID) ([]string, error) {
	return s.db.AppserviceGrantsOfUser(ctx, userID)
}

// Puppets is Grant and Revoke for one appservice: what a built-in bridge calls when a user
// proves who they are to its bot, or logs out (bridges/bridge.Puppets).
type Puppets struct {
	svc          *Service
	appserviceID string
}

// PuppetsOf returns the grants of one appservice.
func (s *Service) PuppetsOf(appserviceID string) *Puppets {
	return &Puppets{svc: s, appserviceID: appserviceID}
}

// Grant lets the appservice act as userID.
func (p *Puppets) Grant(ctx context.Context, userID id.UserID) error {
	return p.svc.Grant(ctx, userID, p.appserviceID, time.Now().UnixMilli())
}

// Revoke withdraws the grant.
func (p *Puppets) Revoke(ctx context.Context, userID id.UserID) error {
	return p.svc.Revoke(ctx, userID, p.appserviceID)
}
