package clientapi

import (
	"net/http"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/config"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

type registerRequest struct {
	Type                     mautrix.AuthType `json:"type"` // m.login.application_service
	Auth                     *authDict        `json:"auth"`
	Username                 string           `json:"username"`
	Password                 string           `json:"password"`
	DeviceID                 id.DeviceID      `json:"device_id"`
	InitialDeviceDisplayName string           `json:"initial_device_display_name"`
	InhibitLogin             bool             `json:"inhibit_login"`
	RefreshToken             bool             `json:"refresh_token"`
}

// registrationFlows are the UIA flows of POST /register for the configured mode.
func (a *API) registrationFlows() []mautrix.UIAFlow {
	if a.registration.Mode == config.RegistrationToken {
		return []mautrix.UIAFlow{{Stages: []mautrix.AuthType{accounts.AuthTypeRegistrationToken}}}
	}
	return []mautrix.UIAFlow{{Stages: []mautrix.AuthType{mautrix.AuthTypeDummy}}}
}

// handleRegister serves POST /_matrix/client/v3/register (data/api/client-server/registration.yaml).
func (a *API) handleRegister(w http.ResponseWriter, r *http.Request) error {
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "user":
	case "guest":
		return mxerr.GuestAccessForbidden.WithMessage("Guest access is disabled")
	default:
		return mxerr.InvalidParam.WithMessage("kind must be user or guest")
	}
	if a.registration.Mode == config.RegistrationClosed {
		return mxerr.Forbidden.WithMessage("Registration is disabled")
	}
	var body registerRequest
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Type == mautrix.AuthTypeAppservice || body.Auth != nil && body.Auth.Type == mautrix.AuthTypeAppservice {
		return a.registerAppserviceUser(w, r, body)
	}
	// Refuse a taken, invalid or reserved username before asking for authentication, so the
	// client can say so at once.
	if body.Username != "" {
		if err := a.usernameAvailable(r, body.Username); err != nil {
			return err
		}
	}
	// Clients first POST without auth (often without a password) to learn the flows.
	sess, err := a.uia(r, body.Auth, "", a.registrationFlows())
	if err != nil {
		return err
	}
	if body.Password == "" {
		return mxerr.MissingParam.WithMessage("password is required")
	}
	created, err := a.accounts.Register(r.Context(), accounts.RegisterParams{
		Localpart:                body.Username,
		Password:                 body.Password,
		DeviceID:                 body.DeviceID,
		InitialDeviceDisplayName: body.InitialDeviceDisplayName,
		IP:                       web.RemoteIP(r),
		InhibitLogin:             body.InhibitLogin,
		RefreshToken:             body.RefreshToken,
		UIASession:               sess.ID,
	})
	if err != nil {
		return err
	}
	return ok(w, sessionResponse(created, a.serverName))
}

// sessionResponse is the body of a successful login or registration.
func sessionResponse(s accounts.Session, serverName string) map[string]any {
	out := map[string]any{"user_id": s.UserID, "home_server": serverName}
	if s.AccessToken != "" {
		out["access_token"] = s.AccessToken
		out["device_id"] = s.DeviceID
	}
	if s.RefreshToken != "" {
		out["refresh_token"] = s.RefreshToken
	}
	if s.ExpiresIn > 0 {
		out["expires_in_ms"] = s.ExpiresIn.Milliseconds()
	}
	return out
}

// handleRegisterAvailable serves GET /_matrix/client/v3/register/available (data/api/client-server/registration.yaml).
func (a *API) handleRegisterAvailable(w http.ResponseWriter, r *http.Request) error {
	username := r.URL.Query().Get("username")
	if username == "" {
		return mxerr.MissingParam.WithMessage("username is required")
	}
	if err := a.usernameAvailable(r, username); err != nil {
		return err
	}
	return ok(w, map[string]any{"available": true})
}

// usernameAvailable checks that an ordinary client may register username: valid, free and not
// reserved by an application service's exclusive namespace (M_EXCLUSIVE).
func (a *API) usernameAvailable(r *http.Request, username string) error {
	// Reserved first: "this belongs to a bridge" explains more than the localpart rules do.
	if a.appservices != nil {
		if err := a.appservices.CheckUserID(id.NewUserID(strings.ToLower(username), a.serverName), ""); err != nil {
			return err
		}
	}
	return a.accounts.UsernameAvailable(r.Context(), username)
}

// registerAppserviceUser serves POST /register with m.login.application_service: an
// appservice creates a user in its namespace, with no password and no UIA.
func (a *API) registerAppserviceUser(w http.ResponseWriter, r *http.Request, body registerRequest) error {
	token, err := web.AccessToken(r, a.cfg.AccessTokenQueryParam)
	if err != nil {
		return err
	}
	if a.appservices == nil || token == "" {
		return mxerr.MissingToken.WithMessage("m.login.application_service needs the appservice's token")
	}
	as, isAppservice, err := a.appservices.Authenticate(r.Context(), token, "", "")
	if err != nil {
		return err
	} else if !isAppservice {
		return mxerr.UnknownToken.WithMessage("Unknown application service token")
	}
	if body.Username == "" {
		return mxerr.MissingParam.WithMessage("username is required")
	}
	if err := a.appservices.CheckRegistration(as.AppserviceID, id.NewUserID(body.Username, a.serverName)); err != nil {
		return err
	}
	created, err := a.accounts.Register(r.Context(), accounts.RegisterParams{
		Localpart:                body.Username,
		AppserviceID:             as.AppserviceID,
		DeviceID:                 body.DeviceID,
		InitialDeviceDisplayName: body.InitialDeviceDisplayName,
		IP:                       web.RemoteIP(r),
		InhibitLogin:             body.InhibitLogin,
		RefreshToken:             body.RefreshToken,
	})
	if err != nil {
		return err
	}
	return ok(w, sessionResponse(created, a.serverName))
}

// handleRegistrationTokenValidity serves GET /_matrix/client/v1/register/m.login.registration_token/validity
// (data/api/client-server/registration_tokens.yaml).
func (a *API) handleRegistrationTokenValidity(w http.ResponseWriter, r *http.Request) error {
	if a.registration.Mode != config.RegistrationToken {
		return mxerr.Forbidden.WithMessage("Registration tokens are not in use")
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		return mxerr.MissingParam.WithMessage("token is required")
	}
	valid, err := a.accounts.ValidateRegistrationToken(r.Context(), token)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"valid": valid})
}
