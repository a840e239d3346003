// Package clientapi serves the Matrix Client-Server API over HTTP: routing (routes.go),
// authentication of requests, user-interactive auth, rate limits and the thin handlers that
// parse a request, call the domain packages (accounts, rooms, syncapi) and write the answer.
// No SQL and no room logic live here.
package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/config"
	"causeway/homeserver/keys"
	"causeway/homeserver/moderation"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/push"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
	"causeway/homeserver/syncapi"
	"causeway/homeserver/web"
)

// API holds the handlers' dependencies.
type API struct {
	cfg          config.ClientAPI
	registration config.Registration
	serverName   string
	baseURL      string
	accounts     *accounts.Service
	rooms        *rooms.Service
	sync         *syncapi.Service
	moderation   *moderation.Service
	pushers      *push.Pushers
	backups      *keys.Backups
	toDevice     *keys.ToDevice
	keys         *keys.DeviceKeys
	dehydration  *keys.Dehydration
	appservices  Appservices                 // nil: no application-service layer
	limiter      *web.RateLimiter            // every limited request
	actions      map[string]*web.RateLimiter // per action (ratelimit.go), on top
	log          *slog.Logger
}

// Appservices is the application-service layer as the client API needs it. It lives outside
// the homeserver packages (causeway/appservice); cmd wires it in.
type Appservices interface {
	// Authenticate resolves token as an appservice's as_token, with the request's user_id and
	// device_id masquerading parameters ("" when absent). ok is false for any other token.
	Authenticate(ctx context.Context, token string, userID id.UserID, deviceID id.DeviceID) (req accounts.Requester, ok bool, err error)
	// RateLimited reports whether the appservice's requests are rate limited.
	RateLimited(appserviceID string) bool
	// ManagesDevices reports whether the appservice creates and deletes its users' devices
	// itself (MSC4190).
	ManagesDevices(appserviceID string) bool
	// CheckUserID and CheckAlias refuse with M_EXCLUSIVE what another appservice holds
	// exclusively; appserviceID is the requester's ("" for ordinary clients).
	CheckUserID(userID id.UserID, appserviceID string) error
	CheckAlias(alias id.RoomAlias, appserviceID string) error
	// CheckRegistration says whether the appservice may register userID.
	CheckRegistration(appserviceID string, userID id.UserID) error
	// QueryUser and QueryAlias ask the appservices covering a missing user or alias to create
	// it, and report whether one did. They may block on the appservice's answer.
	QueryUser(ctx context.Context, userID id.UserID) bool
	QueryAlias(ctx context.Context, alias id.RoomAlias) bool
	// Ping has the homeserver ping the appservice appserviceID for requester.
	Ping(ctx context.Context, appserviceID, requester, txnID string) (time.Duration, error)
	// ThirdPartyProtocols, ThirdPartyProtocol and ThirdPartyLookup answer third-party lookups
	// from the appservices that declare the protocols. kind is "location" or "user"; protocol
	// "" asks every appservice (reverse lookups).
	ThirdPartyProtocols(ctx context.Context) (map[string]json.RawMessage, error)
	ThirdPartyProtocol(ctx context.Context, protocol string) (json.RawMessage, error)
	ThirdPartyLookup(ctx context.Context, kind, protocol string, query url.Values) ([]json.RawMessage, error)
	// Grant, Revoke and Grants manage which appservices may act as a user.
	Grant(ctx context.Context, userID id.UserID, appserviceID string, nowTS int64) error
	Revoke(ctx context.Context, userID id.UserID, appserviceID string) error
	Grants(ctx context.Context, userID id.UserID) ([]string, error)
}

// Options are what New needs.
type Options struct {
	Config       config.ClientAPI
	Registration config.Registration
	ServerName   string
	BaseURL      string // the public base URL, with a trailing slash
	Accounts     *accounts.Service
	Rooms        *rooms.Service
	Sync         *syncapi.Service
	Moderation   *moderation.Service
	Pushers      *push.Pushers
	KeyBackups   *keys.Backups
	ToDevice     *keys.ToDevice
	Keys         *keys.DeviceKeys
	Dehydration  *keys.Dehydration
	Appservices  Appservices // may be nil
	Log          *slog.Logger
}

// New returns the client API.
func New(opts Options) *API {
	a := &API{
		cfg:          opts.Config,
		registration: opts.Registration,
		serverName:   opts.ServerName,
		baseURL:      opts.BaseURL,
		accounts:     opts.Accounts,
		rooms:        opts.Rooms,
		sync:         opts.Sync,
		moderation:   opts.Moderation,
		pushers:      opts.Pushers,
		backups:      opts.KeyBackups,
		toDevice:     opts.ToDevice,
		keys:         opts.Keys,
		dehydration:  opts.Dehydration,
		appservices:  opts.Appservices,
		log:          opts.Log,
	}
	if rl := opts.Config.RateLimit; rl.Enabled {
		a.limiter = web.NewRateLimiter(rl.PerSecond, rl.Burst)
		a.actions = actionLimiters(rl)
	}
	return a
}

// wrap adapts a handler; errors become Matrix error responses in one place. A UIA challenge is
// not an error response but the 401 body of the user-interactive auth API.
func (a *API) wrap(h web.HandlerFunc) http.HandlerFunc {
	return web.Wrap(a.log, func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		var challenge *uiaChallenge
		if errors.As(err, &challenge) {
			return web.WriteJSON(w, http.StatusUnauthorized, challenge)
		}
		return err
	}, mapStorageErrors)
}

// mapStorageErrors answers for storage sentinels that reach a handler unconverted.
func mapStorageErrors(err error) (mautrix.RespError, bool) {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return mxerr.NotFound.WithMessage("not found"), true
	case errors.Is(err, storage.ErrConflict):
		return mxerr.Unknown.WithMessage("conflicting request, try again").WithStatus(http.StatusConflict), true
	}
	return mautrix.RespError{}, false
}

// readJSON decodes a request body within the configured size limit.
func (a *API) readJSON(w http.ResponseWriter, r *http.Request, into any) error {
	return web.ReadJSON(w, r, a.cfg.MaxRequestBodyBytes, into)
}

// ok writes a 200 response.
func ok(w http.ResponseWriter, v any) error {
	if v == nil {
		v = struct{}{}
	}
	return web.WriteJSON(w, http.StatusOK, v)
}
