package clientapi

import (
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// whoisConnection is one connection of a session in /admin/whois. The server keeps, per
// device, the address and time of the latest request; no user agent.
type whoisConnection struct {
	IP       string `json:"ip,omitempty"`
	LastSeen int64  `json:"last_seen,omitempty"`
}

type whoisSession struct {
	Connections []whoisConnection `json:"connections"`
}

type whoisDevice struct {
	Sessions []whoisSession `json:"sessions"`
}

// handleWhois serves GET /_matrix/client/v3/admin/whois/{userId} (data/api/client-server/admin.yaml):
// for server admins, or a user about themselves, the user's devices with where and when each
// was last seen.
func (a *API) handleWhois(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	req := requester(r)
	if !req.IsAdmin && req.UserID != userID {
		return mxerr.Forbidden.WithMessage("only server admins may look up other users")
	}
	if _, err := a.accounts.Profile(r.Context(), userID); err != nil {
		return err
	}
	devs, err := a.accounts.Devices(r.Context(), userID)
	if err != nil {
		return err
	}
	out := map[id.DeviceID]whoisDevice{}
	for _, d := range devs {
		conn := whoisConnection{IP: d.LastSeenIP}
		if !d.LastSeen.IsZero() {
			conn.LastSeen = d.LastSeen.UnixMilli()
		}
		out[d.ID] = whoisDevice{Sessions: []whoisSession{{Connections: []whoisConnection{conn}}}}
	}
	return ok(w, map[string]any{"user_id": userID, "devices": out})
}
