package clientapi

import (
	"net/http"

	"causeway/homeserver/rooms"
)

// specVersions are the Client-Server API versions whose endpoints this server serves. Clients
// pick features by the newest version listed, so only versions whose required endpoints exist
// are claimed.
var specVersions = []string{"r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
	"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"}

// unstableFeatures are the unstable features advertised in /versions: clients use an MSC's
// endpoints only when its flag is set.
var unstableFeatures = map[string]bool{
	"org.matrix.msc3814": true, // dehydrated devices (dehydrated.go)
}

// handleVersions serves GET /_matrix/client/versions (data/api/client-server/versions.yaml).
func (a *API) handleVersions(w http.ResponseWriter, r *http.Request) error {
	return ok(w, map[string]any{"versions": specVersions, "unstable_features": unstableFeatures})
}

// handleWellKnown serves GET /.well-known/matrix/client (data/api/client-server/wellknown.yaml).
func (a *API) handleWellKnown(w http.ResponseWriter, r *http.Request) error {
	return ok(w, map[string]any{"m.homeserver": map[string]string{"base_url": a.baseURL}})
}

// handleCapabilities serves GET /_matrix/client/v3/capabilities (data/api/client-server/capabilities.yaml).
func (a *API) handleCapabilities(w http.ResponseWriter, r *http.Request) error {
	available := map[string]string{}
	for _, v := range rooms.CreatableVersions {
		available[string(v)] = "stable"
	}
	caps := map[string]any{
		"m.change_password": map[string]bool{"enabled": true},
		"m.room_versions":   map[string]any{"default": a.rooms.DefaultVersion(), "available": available},
		"m.set_displayname": map[string]bool{"enabled": true},
		"m.set_avatar_url":  map[string]bool{"enabled": true},
		"m.3pid_changes":    map[string]bool{"enabled": false},
		"m.get_login_token": map[string]bool{"enabled": true},
	}
	if requester(r).IsAdmin {
		// Server admins may lock and suspend accounts (adminlock.go); for anyone else the
		// capability is omitted, as the spec asks when both would be false.
		caps["m.account_moderation"] = map[string]bool{"lock": true, "suspend": true}
	}
	return ok(w, map[string]any{"capabilities": caps})
}
