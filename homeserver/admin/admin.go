// Package admin serves the administration API: Causeway's own endpoints under
// /_causeway/admin/v1 (operations: appservice delivery status), and later the
// Synapse-compatible /_synapse/admin paths. Every endpoint needs a server admin's access token.
// Domain logic stays in the domain packages; this package authenticates, calls and writes.
package admin

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"causeway/homeserver/accounts"
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

// API holds the admin handlers' dependencies.
type API struct {
	accounts    *accounts.Service
	appservices AppserviceStatuses // nil: no appservice layer
	log         *slog.Logger
}

// New returns the admin API. appservices may be nil.
func New(accountsSvc *accounts.Service, appservices AppserviceStatuses, log *slog.Logger) *API {
	return &API{accounts: accountsSvc, appservices: appservices, log: log}
}

// Handler serves the admin routes.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(web.AssignRequestID)
	r.NotFound(web.NotFound)
	r.MethodNotAllowed(web.MethodNotAllowed)
	r.Get("/_causeway/admin/v1/appservices", a.admin(a.handleAppserviceStatus))
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
