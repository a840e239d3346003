package clientapi

import (
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// handleLoginFlows serves GET /_matrix/client/v3/login (data/api/client-server/login.yaml).
func (a *API) handleLoginFlows(w http.ResponseWriter, r *http.Request) error {
	flows := []map[string]any{{"type": mautrix.AuthTypePassword}}
	if a.appservices != nil {
		flows = append(flows, map[string]any{"type": mautrix.AuthTypeAppservice})
	}
	return ok(w, map[string]any{"flows": flows})
}

type loginRequest struct {
	Type                     mautrix.AuthType       `json:"type"`
	Identifier               mautrix.UserIdentifier `json:"identifier"`
	User                     string                 `json:"user"`
	Password                 string                 `json:"password"`
	DeviceID                 id.DeviceID            `json:"device_id"`
	InitialDeviceDisplayName string                 `json:"initial_device_display_name"`
	RefreshToken             bool                   `json:"refresh_token"`
}

// handleLogin serves POST /_matrix/client/v3/login (data/api/client-server/login.yaml).
func (a *API) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var body loginRequest
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Type != mautrix.AuthTypePassword && body.Type != mautrix.AuthTypeAppservice {
		return mxerr.Unknown.WithMessage("Unknown login type %q", body.Type).WithStatus(http.StatusBadRequest)
	}
	userID, err := accounts.ResolveIdentifier(body.Identifier, body.User, a.serverName)
	if err != nil {
		return err
	}
	params := accounts.LoginParams{
		UserID:                   userID,
		Password:                 body.Password,
		DeviceID:                 body.DeviceID,
		InitialDeviceDisplayName: body.InitialDeviceDisplayName,
		IP:                       web.RemoteIP(r),
		RefreshToken:             body.RefreshToken,
	}
	var sess accounts.Session
	if body.Type == mautrix.AuthTypeAppservice {
		sess, err = a.loginAppserviceUser(r, params)
	} else {
		sess, err = a.accounts.Login(r.Context(), params)
	}
	if err != nil {
		return err
	}
	return ok(w, sessionResponse(sess, a.serverName))
}

// loginAppserviceUser logs in a user of an appservice's namespace on the appservice's token
// (m.login.application_service in data/api/client-server/login.yaml).
func (a *API) loginAppserviceUser(r *http.Request, params accounts.LoginParams) (accounts.Session, error) {
	token, err := web.AccessToken(r, a.cfg.AccessTokenQueryParam)
	if err != nil {
		return accounts.Session{}, err
	}
	if a.appservices == nil || token == "" {
		return accounts.Session{}, mxerr.MissingToken.WithMessage("m.login.application_service needs the appservice's token")
	}
	// Authenticating as the user checks the namespace (or a grant) and that the user exists.
	as, isAppservice, err := a.appservices.Authenticate(r.Context(), token, params.UserID, "")
	if err != nil {
		return accounts.Session{}, err
	} else if !isAppservice {
		return accounts.Session{}, mxerr.UnknownToken.WithMessage("Unknown application service token")
	}
	params.UserID = as.UserID
	return a.accounts.LoginVerified(r.Context(), params)
}

// handleRefresh serves POST /_matrix/client/v3/refresh (data/api/client-server/refresh.yaml).
func (a *API) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.RefreshToken == "" {
		return mxerr.MissingParam.WithMessage("refresh_token is required")
	}
	sess, err := a.accounts.Refresh(r.Context(), body.RefreshToken)
	if err != nil {
		return err
	}
	out := map[string]any{"access_token": sess.AccessToken, "refresh_token": sess.RefreshToken}
	if sess.ExpiresIn > 0 {
		out["expires_in_ms"] = sess.ExpiresIn.Milliseconds()
	}
	return ok(w, out)
}

// handleLogout serves POST /_matrix/client/v3/logout (data/api/client-server/logout.yaml).
func (a *API) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if err := a.accounts.Logout(r.Context(), requester(r)); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleLogoutAll serves POST /_matrix/client/v3/logout/all (data/api/client-server/logout.yaml).
func (a *API) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	if err := a.accounts.LogoutAll(r.Context(), requester(r).UserID); err != nil {
		return err
	}
	return ok(w, nil)
}
