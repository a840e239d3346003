package clientapi

import (
	"net/http"

	"causeway/homeserver/mxerr"
)

// handleSSORedirect serves GET /_matrix/client/v3/login/sso/redirect[/{idpId}]
// (data/api/client-server/sso_login_redirect.yaml) as a server without single sign-on: GET
// /login lists no m.login.sso flow, and a browser sent here anyway learns why nothing happens.
func (a *API) handleSSORedirect(w http.ResponseWriter, r *http.Request) error {
	return mxerr.NotFound.WithMessage("single sign-on is not configured on this server: log in with a password")
}
