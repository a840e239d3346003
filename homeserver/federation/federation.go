// Package federation serves the Server-Server API. So far it answers only what other parties
// call without federation: the check of OpenID tokens (data/api/server-server/openid.yaml),
// which integration managers and widgets use to learn who a user of this server is. Everything
// else under /_matrix/federation is M_UNRECOGNIZED until federation is built.
package federation

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// API holds the federation handlers' dependencies.
type API struct {
	accounts *accounts.Service
	log      *slog.Logger
}

// New returns the federation API.
func New(accountsSvc *accounts.Service, log *slog.Logger) *API {
	return &API{accounts: accountsSvc, log: log}
}

// Handler serves /_matrix/federation.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(web.AssignRequestID)
	r.NotFound(web.NotFound)
	r.MethodNotAllowed(web.MethodNotAllowed)
	r.Get("/_matrix/federation/v1/openid/userinfo", web.Wrap(a.log, a.handleOpenIDUserInfo))
	return r
}

// handleOpenIDUserInfo serves GET /_matrix/federation/v1/openid/userinfo?access_token=…: the
// user an OpenID token was issued to, as {"sub": user ID}.
func (a *API) handleOpenIDUserInfo(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("access_token")
	if token == "" {
		return mxerr.UnknownToken.WithMessage("access_token is required")
	}
	userID, err := a.accounts.OpenIDUser(r.Context(), token)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"sub": userID})
}
