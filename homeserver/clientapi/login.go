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
	// get_login_token: a logged-in client may make tokens for m.login.token (login_token.yaml).
	flows := []map[string]any{{"type": mautrix.AuthTypePassword}, {"type": mautrix.AuthTypeToken, "get_login_token": true}}
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
	Token                    string                 `json:"token"`
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
	params := accounts.LoginParams{
		Password:                 body.Password,
		DeviceID:                 body.DeviceID,
		InitialDeviceDisplayName: body.InitialDeviceDisplayName,
		IP:                       web.RemoteIP(r),
		RefreshToken:             body.RefreshToken,
	}
	var sess accounts.Session
	var err error
	switch body.Type {
	case mautrix.AuthTypeToken:
		if body.Token == "" {
			return mxerr.MissingParam.WithMessage("token is required")
		}
		sess, err = a.accounts.LoginWithToken(r.Context(), body.Token, params)
	case mautrix.AuthTypePassword, mautrix.AuthTypeAppservice:
		if params.UserID, err = accounts.ResolveIdentifier(body.Identifier, body.User, a.serverName); err != nil {
			return err
		}
		if body.Type == mautrix.AuthTypeAppservice {
			sess, err = a.loginAppserviceUser(r, params)
		} else {
			sess, err = a.accounts.Login(r.Context(), params)
		}
	default:
		return mxerr.Unknown.WithMessage("Unknown login type %q", body.Type).WithStatus(http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	return ok(w, sessionResponse(sess, a.serverName))
}

// handleGetLoginToken serves POST /_matrix/client/v1/login/get_token
// (data/api/client-server/login_token.yaml): after the user proves it is them again (UIA), a
// single-use token with which another device logs in as them.
func (a *API) handleGetLoginToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Auth *authDict `json:"auth"`
	}
	if err := a.readOptionalJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	sess, err := a.uia(r, body.Auth, req.UserID, passwordFlows)
	if err != nil {
		return err
	}
	token, err := a.accounts.NewLoginToken(r.Context(), req.UserID)
	if err != nil {
		return err
	}
	a.accounts.EndSession(r.Context(), sess.ID)
	return ok(w, map[string]any{"login_token": token, "expires_in_ms": accounts.LoginTokenLifetime.Milliseconds()})
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
