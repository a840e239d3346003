// Package accounts owns the domain logic of local accounts: registration, passwords, login,
// access and refresh tokens, devices, registration tokens, account locks and suspensions (what
// they allow, lock.go) and the state of user-interactive authentication (UIA) sessions.
//
// It is called by the API packages (clientapi, admin) and calls storage; it knows nothing of
// HTTP. Protocol answers (a taken user ID, a wrong password, an unknown token) are returned as
// mxerr values for the caller's error writer; anything else is a plain wrapped error. The
// shape of the UIA 401 body, request parsing and rate limiting belong to clientapi.
//
// What happens around an account but is not an account does not belong here either: leaving
// rooms on deactivation (rooms), uploading and serving device keys (keys), appservice
// namespace checks (appservice). A deleted device takes its keys with it (foreign keys) and
// its deletion is recorded in the device-list stream in the same transaction.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// Options configures a Service.
type Options struct {
	// ServerName is this homeserver's name, the domain of every local user ID.
	ServerName string
	// AccessTokenLifetime is how long an access token issued without a refresh token lives;
	// 0 means forever (config client_api.access_token_lifetime).
	AccessTokenLifetime time.Duration
	// RefreshAccessLifetime is how long an access token issued together with a refresh token
	// lives (config client_api.refresh_token_access_lifetime); 0 means the default, 5 minutes.
	RefreshAccessLifetime time.Duration
	// Now returns the current time; nil means time.Now. Tests inject a clock.
	Now func() time.Time
	// Log receives the service's records; nil discards them.
	Log *slog.Logger
	// DeviceLists hears of every committed change of a user's devices; may be nil.
	DeviceLists DeviceListNotifier
}

// DeviceListNotifier hears that a user's device list changed (a device renamed or deleted)
// after the change, recorded in the "device_lists" stream in the same transaction, has
// committed: syncapi wakes the long polls of the users who share a room with them. It must not
// block for long.
type DeviceListNotifier interface {
	DeviceListChanged(ctx context.Context, userID id.UserID)
}

// DefaultRefreshAccessLifetime is the lifetime of access tokens issued with a refresh token when
// Options leaves it unset.
const DefaultRefreshAccessLifetime = 5 * time.Minute

// Session is the outcome of a login, a registration or a refresh: the credentials the client
// receives. AccessToken and DeviceID are empty after a registration with inhibit_login.
type Session struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	AccessToken string
	// RefreshToken is empty unless the client said it supports refresh tokens.
	RefreshToken string
	// ExpiresIn is the access token's lifetime; 0 means it does not expire.
	ExpiresIn time.Duration
}

// Service is the accounts domain. It is safe for concurrent use.
type Service struct {
	db                    *storage.DB
	serverName            string
	accessLifetime        time.Duration
	refreshAccessLifetime time.Duration
	now                   func() time.Time
	log                   *slog.Logger
	deviceLists           DeviceListNotifier // nil: nobody to wake

	hashParams argon2Params
	// hashSlots bounds concurrent password hashes: each one holds hashParams.memory of RAM, so
	// a burst of logins must queue rather than exhaust memory.
	hashSlots chan struct{}
	dummy     struct {
		once sync.Once
		hash string
	}

	mu        sync.Mutex
	used      map[deviceKey]deviceUse // see noteUse
	lastSweep time.Time
}

// New returns the accounts service on db.
func New(db *storage.DB, opts Options) *Service {
	s := &Service{
		db:                    db,
		serverName:            opts.ServerName,
		accessLifetime:        max(opts.AccessTokenLifetime, 0),
		refreshAccessLifetime: opts.RefreshAccessLifetime,
		now:                   opts.Now,
		log:                   opts.Log,
		deviceLists:           opts.DeviceLists,
		hashParams:            defaultArgon2Params,
		hashSlots:             make(chan struct{}, max(runtime.GOMAXPROCS(0), 1)),
		used:                  make(map[deviceKey]deviceUse),
	}
	if s.refreshAccessLifetime <= 0 {
		s.refreshAccessLifetime = DefaultRefreshAccessLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// userID returns the local user ID with the given localpart.
func (s *Service) userID(localpart string) id.UserID {
	return id.NewUserID(localpart, s.serverName)
}

func (s *Service) nowMS() int64 { return s.now().UnixMilli() }

// devicesChanged tells the device-list notifier, if any, that the user's devices changed.
func (s *Service) devicesChanged(ctx context.Context, userID id.UserID) {
	if s.deviceLists != nil {
		s.deviceLists.DeviceListChanged(ctx, userID)
	}
}

// opError returns a protocol answer (a mautrix.RespError) as it is, so that callers and the
// error writer see the value itself, and wraps anything else with the operation's name.
func opError(op string, err error) error {
	if err == nil {
		return nil
	}
	var resp mautrix.RespError
	if errors.As(err, &resp) {
		return resp
	}
	return fmt.Errorf("%s: %w", op, err)
}
