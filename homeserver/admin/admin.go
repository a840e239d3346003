// Package admin serves the administration API: Causeway's own endpoints under
// /_causeway/admin/v1 (operations: appservice delivery status, grants), and Synapse-compatible
// endpoints under /_synapse/admin (media so far). Every endpoint needs a server admin's access token.
// Domain logic stays in the domain packages; this package authenticates, calls and writes.
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/media"
	"causeway/homeserver/moderation"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// AppserviceStatus is where delivery to one application service stands.
type AppserviceStatus struct {
	ID                string `json:"id"`
	LastSuccessTS     int64  `json:"last_success_ts,omitempty"`
	LastError         string `json:"last_error,omitempty"`
	LastErrorTS       int64  `json:"last_error_ts,omitempty"`
	QueueDepth        int64  `json:"queue_depth"`
	OldestQueuedAgeMS int64  `json:"oldest_queued_age_ms"`
	InFlightTxnID     string `json:"in_flight_txn_id,omitempty"`
	RetryAtTS         int64  `json:"retry_at_ts,omitempty"`
}

// AppserviceStatuses reports on appservice delivery; the appservice layer implements it.
type AppserviceStatuses interface {
	AppserviceStatuses(ctx context.Context) ([]AppserviceStatus, error)
}

// AppserviceGrants records which appservices may act as which users (double puppeting); the
// appservice layer implements it.
type AppserviceGrants interface {
	Grant(ctx context.Context, userID id.UserID, appserviceID string, nowTS int64) error
	Revoke(ctx context.Context, userID id.UserID, appserviceID string) error
	Grants(ctx context.Context, userID id.UserID) ([]string, error)
}

// Bridges operates the built-in bridges, which run outside the homeserver packages
// (bridges/bridge.Directory implements it). name is a bridge ("slack"), workspace one of its
// configured workspaces, channel a remote channel by name or ID.
type Bridges interface {
	// BridgeStatus returns the status of the named bridge as a JSON-encodable value, or false
	// when no such bridge runs.
	BridgeStatus(ctx context.Context, name string) (any, bool)
	// BridgeChannel bridges a channel into a new portal, or into the room into when given, and
	// returns the portal's room.
	BridgeChannel(ctx context.Context, name, workspace, channel string, into id.RoomID) (id.RoomID, error)
	// UnbridgeChannel stops bridging a channel. Errors with a NotFound() bool method that
	// reports true (here and above) mean an unknown bridge, workspace or channel.
	UnbridgeChannel(ctx context.Context, name, workspace, channel string) error
	// ResyncChannel refreshes a portal from its channel and catches it up.
	ResyncChannel(ctx context.Context, name, workspace, channel string) error
}

// API holds the admin handlers' dependencies.
type API struct {
	accounts    *accounts.Service
	media       *media.Repository
	moderation  *moderation.Service
	appservices AppserviceStatuses // nil: no appservice layer
	grants      AppserviceGrants   // nil: no appservice layer
	bridges     Bridges            // nil: no built-in bridge
	imports     Imports            // nil: no importer
	migration   Migration          // nil: no cutover
	log         *slog.Logger
}

// Options are what New needs.
type Options struct {
	Accounts    *accounts.Service
	Media       *media.Repository
	Moderation  *moderation.Service
	Appservices AppserviceStatuses // nil: no appservice layer
	Grants      AppserviceGrants   // nil: no appservice layer
	Bridges     Bridges            // nil: no built-in bridge
	Imports     Imports            // nil: no importer
	Migration   Migration          // nil: no cutover
	Log         *slog.Logger
}

// New returns the admin API.
func New(opts Options) *API {
	return &API{accounts: opts.Accounts, media: opts.Media, moderation: opts.Moderation, appservices: opts.Appservices, grants: opts.Grants, bridges: opts.Bridges, imports: opts.Imports, migration: opts.Migration, log: opts.Log}
}

// Handler serves the admin routes.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(web.AssignRequestID)
	r.NotFound(web.NotFound)
	r.MethodNotAllowed(web.MethodNotAllowed)
	r.Get("/_causeway/admin/v1/appservices", a.admin(a.handleAppserviceStatus))
	r.Get("/_causeway/admin/v1/users/{userId}/appservice_grants", a.admin(a.handleListGrants))
	r.Put("/_causeway/admin/v1/users/{userId}/appservice_grants/{appserviceId}", a.admin(a.handlePutGrant))
	r.Delete("/_causeway/admin/v1/users/{userId}/appservice_grants/{appserviceId}", a.admin(a.handleDeleteGrant))
	a.bridgeRoutes(r)
	a.importRoutes(r)
	a.migrationRoutes(r)
	a.mediaRoutes(r)
	r.Get("/_causeway/admin/v1/reports", a.admin(a.handleReports))
	return r
}

// admin requires a server admin's access token before running h.
func (a *API) admin(h web.HandlerFunc) http.HandlerFunc {
	return web.Wrap(a.log, func(w http.ResponseWriter, r *http.Request) error {
		token, err := web.AccessToken(r, false)
		if err != nil {
			return err
		}
		if token == "" {
			return mxerr.MissingToken.WithMessage("Missing access token")
		}
		req, err := a.accounts.Authenticate(r.Context(), token)
		if err != nil {
			return err
		}
		if !req.IsAdmin {
			return mxerr.Forbidden.WithMessage("You are not a server admin")
		}
		return h(w, r.WithContext(web.WithUser(r.Context(), req.UserID, req.DeviceID)))
	})
}

// handleAppserviceStatus serves GET /_causeway/admin/v1/appservices: per appservice, the last
// success and error, the queue depth and the age of the oldest queued event.
func (a *API) handleAppserviceStatus(w http.ResponseWriter, r *http.Request) error {
	statuses := []AppserviceStatus{}
	if a.appservices != nil {
		var err error
		if statuses, err = a.appservices.AppserviceStatuses(r.Context()); err != nil {
			return err
		}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"appservices": statuses})
}

// handleListGrants serves GET /_causeway/admin/v1/users/{userId}/appservice_grants: the
// appservices that may act as the user.
func (a *API) handleListGrants(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	grants := []string{}
	if a.grants != nil {
		list, err := a.grants.Grants(r.Context(), userID)
		if err != nil {
			return err
		}
		grants = append(grants, list...)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"appservices": grants})
}

// handlePutGrant serves PUT /_causeway/admin/v1/users/{userId}/appservice_grants/{appserviceId}:
// an admin lets an appservice act as a local user, as the user could themselves.
func (a *API) handlePutGrant(w http.ResponseWriter, r *http.Request) error {
	userID, appserviceID, err := a.grantParams(r)
	if err != nil {
		return err
	}
	if _, err := a.accounts.Profile(r.Context(), userID); err != nil {
		return err
	}
	if err := a.grants.Grant(r.Context(), userID, appserviceID, time.Now().UnixMilli()); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct{}{})
}

// handleDeleteGrant serves DELETE /_causeway/admin/v1/users/{userId}/appservice_grants/{appserviceId}.
func (a *API) handleDeleteGrant(w http.ResponseWriter, r *http.Request) error {
	userID, appserviceID, err := a.grantParams(r)
	if err != nil {
		return err
	}
	if err := a.grants.Revoke(r.Context(), userID, appserviceID); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct{}{})
}

func (a *API) grantParams(r *http.Request) (id.UserID, string, error) {
	if a.grants == nil {
		return "", "", mxerr.NotFound.WithMessage("no application services are configured")
	}
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return "", "", err
	}
	appserviceID, err := web.PathParam(r, "appserviceId")
	return userID, appserviceID, err
}
