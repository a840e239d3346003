package clientapi

import (
	"net/http"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
)

// handleWhoami serves GET /_matrix/client/v3/account/whoami (data/api/client-server/whoami.yaml).
func (a *API) handleWhoami(w http.ResponseWriter, r *http.Request) error {
	req := requester(r)
	out := map[string]any{"user_id": req.UserID, "is_guest": req.IsGuest}
	if req.DeviceID != "" {
		out["device_id"] = req.DeviceID
	}
	return ok(w, out)
}

// handleChangePassword serves POST /_matrix/client/v3/account/password (data/api/client-server/password_management.yaml).
func (a *API) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Auth          *authDict `json:"auth"`
		NewPassword   string    `json:"new_password"`
		LogoutDevices *bool     `json:"logout_devices"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	sess, err := a.uia(r, body.Auth, req.UserID, passwordFlows)
	if err != nil {
		return err
	}
	if body.NewPassword == "" {
		return mxerr.MissingParam.WithMessage("new_password is required")
	}
	logout := body.LogoutDevices == nil || *body.LogoutDevices
	if err := a.accounts.ChangePassword(r.Context(), req.UserID, body.NewPassword, logout, req.DeviceID); err != nil {
		return err
	}
	if err := a.accounts.EndSession(r.Context(), sess.ID); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleDeactivate serves POST /_matrix/client/v3/account/deactivate (data/api/client-server/account_deactivation.yaml).
// The account is deactivated first (so it can no longer act), then it leaves its rooms.
func (a *API) handleDeactivate(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Auth *authDict `json:"auth"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	sess, err := a.uia(r, body.Auth, req.UserID, passwordFlows)
	if err != nil {
		return err
	}
	if err := a.accounts.Deactivate(r.Context(), req.UserID); err != nil {
		return err
	}
	a.accounts.EndSession(r.Context(), sess.ID)
	if err := a.leaveAllRooms(r, req.UserID); err != nil {
		a.log.WarnContext(r.Context(), "deactivated user did not leave every room", "user_id", req.UserID, "err", err)
	}
	return ok(w, map[string]any{"id_server_unbind_result": "no-support"})
}

func (a *API) leaveAllRooms(r *http.Request, userID id.UserID) error {
	memberships, err := a.rooms.MembershipsOf(r.Context(), userID)
	if err != nil {
		return err
	}
	for roomID, m := range memberships {
		if m == string(event.MembershipJoin) || m == string(event.MembershipInvite) || m == string(event.MembershipKnock) {
			if _, err := a.rooms.Leave(r.Context(), roomID, rooms.MembershipRequest{Sender: userID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// handleOpenIDToken serves POST /_matrix/client/v3/user/{userId}/openid/request_token
// (data/api/client-server/openid.yaml): a token that proves to a third party who the user is.
func (a *API) handleOpenIDToken(w http.ResponseWriter, r *http.Request) error {
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	var body struct{}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	token, err := a.accounts.NewOpenIDToken(r.Context(), userID)
	if err != nil {
		return err
	}
	return ok(w, token)
}
