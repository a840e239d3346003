package accounts

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

const (
	// MaxDeviceIDBytes bounds client-chosen device IDs.
	MaxDeviceIDBytes = 255
	// MaxDeviceDisplayName bounds device display names, in characters, as Synapse does.
	MaxDeviceDisplayName = 100
	// generatedLocalpartDigits is the length of the numeric localparts given to guests and to
	// registrations without a username.
	generatedLocalpartDigits = 12
	// maxGenerateAttempts bounds the retries when a generated localpart is taken.
	maxGenerateAttempts = 5
)

// RegisterParams describe a new account (data/api/client-server/registration.yaml).
type RegisterParams struct {
	// Localpart is the requested username; empty means the server picks a numeric one. It is
	// lower-cased, except for appservice users, whose namespaces are matched as given.
	Localpart string
	// Password is the new account's password; empty means none, which only guests and
	// appservice users may have.
	Password string
	Admin    bool
	// Guest registers a guest account: every other field but InitialDeviceDisplayName and IP is
	// ignored, and the server picks the localpart and device ID, as the spec requires.
	Guest bool
	// AppserviceID names the appservice registering the user. The caller checks that the
	// localpart lies in its namespace.
	AppserviceID string
	// DeviceID is the device to log in; empty means a new random one.
	DeviceID                 id.DeviceID
	InitialDeviceDisplayName string
	// IP is the client's address, recorded on the new device.
	IP string
	// InhibitLogin creates the account without a device or tokens.
	InhibitLogin bool
	// RefreshToken says the client supports refresh tokens.
	RefreshToken bool
	// UIASession is the user-interactive auth session that authorised the registration, if
	// any. It ends in the transaction that creates the account, and the registration token
	// use it reserved, if any, is completed there too (see CompleteStage).
	UIASession string
}

// Register creates an account and, unless InhibitLogin, logs it in on a new device, all in one
// transaction. Its display name starts as its localpart, as in Synapse (guests get none).
//
// A taken user ID is M_USER_IN_USE; a localpart that breaks the rules of CheckLocalpart is
// M_INVALID_USERNAME. Appservice namespaces are the caller's to check.
func (s *Service) Register(ctx context.Context, p RegisterParams) (Session, error) {
	if p.Guest {
		p = RegisterParams{Guest: true, InitialDeviceDisplayName: p.InitialDeviceDisplayName, IP: p.IP,
			RefreshToken: p.RefreshToken, UIASession: p.UIASession}
	}
	isAS := p.AppserviceID != ""
	generated := p.Localpart == ""
	if !generated {
		lp, err := s.CheckLocalpart(p.Localpart, isAS)
		if err != nil {
			return Session{}, err
		}
		p.Localpart = lp
		// Fail fast before spending a password hash; the insert below still decides.
		if err := s.userIDFree(ctx, s.userID(lp)); err != nil {
			return Session{}, err
		}
	}
	if err := checkDeviceID(p.DeviceID); err != nil {
		return Session{}, err
	}
	var hash string
	switch {
	case p.Password != "":
		if err := checkNewPassword(p.Password); err != nil {
			return Session{}, err
		}
		var err error
		if hash, err = s.hashPassword(ctx, p.Password); err != nil {
			return Session{}, opError("register", err)
		}
	case !p.Guest && !isAS:
		return Session{}, mxerr.MissingParam.WithMessage("Missing params: password")
	}

	for attempt := 1; ; attempt++ {
		localpart := p.Localpart
		if generated {
			localpart = randomString("0123456789", generatedLocalpartDigits)
		}
		sess, err := s.register(ctx, p, localpart, hash)
		if errors.Is(err, storage.ErrConflict) && generated && attempt < maxGenerateAttempts {
			continue
		}
		if errors.Is(err, storage.ErrConflict) {
			return Session{}, mxerr.UserInUse.WithMessage("User ID already taken")
		}
		if err != nil {
			return Session{}, opError("register", err)
		}
		s.log.InfoContext(ctx, "registered account", "user_id", sess.UserID, "appservice_id", p.AppserviceID)
		return sess, nil
	}
}

// register runs Register's transaction for one localpart. It returns storage.ErrConflict when
// the user ID is taken.
func (s *Service) register(ctx context.Context, p RegisterParams, localpart, passwordHash string) (Session, error) {
	userID := s.userID(localpart)
	var sess Session
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		now := s.nowMS()
		u := storage.User{ID: userID, PasswordHash: passwordHash, IsAdmin: p.Admin, IsGuest: p.Guest,
			AppserviceID: p.AppserviceID, CreatedTS: now}
		if !p.Guest {
			u.DisplayName = localpart
		}
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		if p.UIASession != "" {
			err := s.finishUIASession(ctx, tx, p.UIASession, true)
			if errors.Is(err, errNoSession) {
				return errUnknownSession
			}
			if err != nil {
				return err
			}
		}
		sess = Session{UserID: userID}
		if p.InhibitLogin {
			return nil
		}
		deviceID := p.DeviceID
		if deviceID == "" {
			deviceID = newDeviceID()
		}
		err := tx.UpsertDevice(ctx, storage.Device{UserID: userID, DeviceID: deviceID,
			DisplayName: truncateDisplayName(p.InitialDeviceDisplayName), CreatedTS: now, LastSeenIP: p.IP})
		if err != nil {
			return err
		}
		sess, err = s.issueTokens(ctx, tx, userID, deviceID, p.RefreshToken)
		return err
	})
	return sess, err
}

// CheckLocalpart validates a requested localpart and returns it as it would be registered.
//
// The grammar is the spec's (content/appendices.md "User Identifiers"): one or more of a-z, 0-9
// and ._=-/+, with the whole user ID at most 255 bytes. Upper case is folded to lower case for
// ordinary users ("map the provided username onto a user_id in a logical manner",
// registration.yaml), as Synapse does. Two more rules, also Synapse's, apply to ordinary users
// but not to appservices (forAppservice), which own their namespaces:
//   - an all-digit localpart is reserved for the numeric IDs the server generates (guests,
//     registrations without a username), so that a generated ID is never someone's chosen name;
//   - a leading underscore is reserved for appservice namespaces (bridge ghosts such as
//     @_slack_U123:example.org).
//
// Any failure is M_INVALID_USERNAME.
func (s *Service) CheckLocalpart(localpart string, forAppservice bool) (string, error) {
	if !forAppservice {
		localpart = strings.ToLower(localpart)
	}
	if localpart == "" {
		return "", mxerr.InvalidUsername.WithMessage("User ID cannot be empty")
	}
	if id.ValidateUserLocalpart(localpart) != nil {
		return "", mxerr.InvalidUsername.WithMessage("User ID can only contain characters a-z, 0-9, or '._=-/+'")
	}
	if len(s.userID(localpart)) > id.UserIDMaxLength {
		return "", mxerr.InvalidUsername.WithMessage("User ID may not be longer than %d bytes", id.UserIDMaxLength)
	}
	if !forAppservice {
		if strings.Trim(localpart, "0123456789") == "" {
			return "", mxerr.InvalidUsername.WithMessage("Numeric user IDs are reserved for generated accounts")
		}
		if localpart[0] == '_' {
			return "", mxerr.InvalidUsername.WithMessage("User ID may not begin with _")
		}
	}
	return localpart, nil
}

// UsernameAvailable reports whether localpart, as an ordinary user would register it, is valid
// (M_INVALID_USERNAME) and free (M_USER_IN_USE); nil means both
// (data/api/client-server/registration.yaml, GET /register/available). Like the endpoint, it
// reserves nothing. Appservice namespaces are the caller's to check.
func (s *Service) UsernameAvailable(ctx context.Context, localpart string) error {
	lp, err := s.CheckLocalpart(localpart, false)
	if err != nil {
		return err
	}
	return s.userIDFree(ctx, s.userID(lp))
}

// userIDFree returns M_USER_IN_USE when the user ID is taken.
func (s *Service) userIDFree(ctx context.Context, userID id.UserID) error {
	_, err := s.db.UserByID(ctx, userID)
	switch {
	case err == nil:
		return mxerr.UserInUse.WithMessage("User ID already taken")
	case errors.Is(err, storage.ErrNotFound):
		return nil
	default:
		return opError("username available", err)
	}
}

// checkDeviceID bounds a client-chosen device ID.
func checkDeviceID(deviceID id.DeviceID) error {
	if len(deviceID) > MaxDeviceIDBytes {
		return mxerr.InvalidParam.WithMessage("device_id may not be longer than %d bytes", MaxDeviceIDBytes)
	}
	return nil
}

// truncateDisplayName cuts an initial device display name to MaxDeviceDisplayName characters,
// as Synapse does at login (renaming a device refuses an over-long name instead).
func truncateDisplayName(name string) string {
	if utf8.RuneCountInString(name) <= MaxDeviceDisplayName {
		return name
	}
	return string([]rune(name)[:MaxDeviceDisplayName])
}
