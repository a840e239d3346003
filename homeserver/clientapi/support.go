package clientapi

import (
	"net/http"

	"causeway/homeserver/config"
	"causeway/homeserver/mxerr"
)

// supportContact is one contact of /.well-known/matrix/support.
type supportContact struct {
	MatrixID string `json:"matrix_id,omitempty"`
	Email    string `json:"email_address,omitempty"`
	Role     string `json:"role"`
}

// handleSupport serves GET /.well-known/matrix/support (data/api/client-server/support.yaml)
// from client_api.support; 404 M_NOT_FOUND when the admin published nothing.
func (a *API) handleSupport(w http.ResponseWriter, r *http.Request) error {
	s := a.cfg.Support
	if len(s.Contacts) == 0 && s.Page == "" {
		return mxerr.NotFound.WithMessage("this server publishes no support information")
	}
	body := map[string]any{}
	if len(s.Contacts) > 0 {
		body["contacts"] = supportContacts(s.Contacts)
	}
	if s.Page != "" {
		body["support_page"] = s.Page
	}
	return ok(w, body)
}

func supportContacts(cs []config.SupportContact) []supportContact {
	out := make([]supportContact, len(cs))
	for i, c := range cs {
		out[i] = supportContact{MatrixID: c.MatrixID, Email: c.Email, Role: c.Role}
	}
	return out
}

// handleNoPolicyServer serves GET /.well-known/matrix/policy_server
// (data/api/client-server/policy_server.yaml): this server is no policy server, which is 404.
func (a *API) handleNoPolicyServer(w http.ResponseWriter, r *http.Request) error {
	return mxerr.NotFound.WithMessage("this server is not a policy server")
}
