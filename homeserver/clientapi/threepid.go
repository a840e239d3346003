package clientapi

import (
	"net/http"

	"causeway/homeserver/mxerr"
)

// Third-party identifiers (e-mail addresses and phone numbers, "3PIDs") need an identity server
// or the server's own e-mail and SMS sending, which Causeway does not have: it answers these
// endpoints as such a server should (data/api/client-server/administrative_contact.yaml,
// registration.yaml, password_management.yaml). Accounts have no 3PIDs, none can be added or
// bound, and no verification token is ever sent; /capabilities says m.3pid_changes is off.

// handleListThreepids serves GET /_matrix/client/v3/account/3pid: no 3PIDs.
func (a *API) handleListThreepids(w http.ResponseWriter, r *http.Request) error {
	return ok(w, map[string]any{"threepids": []any{}})
}

// handleAddThreepid serves POST /_matrix/client/v3/account/3pid/add and /account/3pid/bind
// (and the deprecated POST /account/3pid): refused, as no 3PID can be validated here.
func (a *API) handleAddThreepid(w http.ResponseWriter, r *http.Request) error {
	return mxerr.ThreepidDenied.WithMessage("this server keeps no third-party identifiers")
}

// threepidBody is the body of /account/3pid/delete and /unbind.
type threepidBody struct {
	Medium  string `json:"medium"`
	Address string `json:"address"`
}

// handleRemoveThreepid serves POST /_matrix/client/v3/account/3pid/delete and /unbind: the
// account has no such 3PID and no identity server was asked, which the spec's answer for a
// server that cannot unbind says (id_server_unbind_result no-support).
func (a *API) handleRemoveThreepid(w http.ResponseWriter, r *http.Request) error {
	var body threepidBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Medium == "" || body.Address == "" {
		return mxerr.BadJSON.WithMessage("medium and address are required")
	}
	return ok(w, map[string]string{"id_server_unbind_result": "no-support"})
}

// handleThreepidTokenForAccount serves POST /_matrix/client/v3/account/3pid/email/requestToken
// and …/msisdn/requestToken: the server adds no e-mail addresses or phone numbers.
func (a *API) handleThreepidTokenForAccount(w http.ResponseWriter, r *http.Request) error {
	return mxerr.ThreepidMediumNotSupported.WithMessage("this server sends no e-mail or text messages and keeps no third-party identifiers")
}

// handleThreepidToken serves POST /_matrix/client/v3/register/{email,msisdn}/requestToken and
// /account/password/{email,msisdn}/requestToken: the server permits no third-party identifier
// for registration or password resets.
func (a *API) handleThreepidToken(w http.ResponseWriter, r *http.Request) error {
	return mxerr.ThreepidDenied.WithMessage("this server sends no e-mail or text messages: register with a username, and ask an admin to reset a password")
}
