package clientapi

import (
	"encoding/json"
	"encoding/json/jsontext"
	"net/http"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// lockedRoutes are the only authenticated endpoints that a locked account may call, by method
// and chi route pattern: "all but the following Client-Server APIs: POST /logout,
// POST /logout/all" ("Account locking" in content/client-server-api/_index.md). Every other
// endpoint answers M_USER_LOCKED.
var lockedRoutes = map[string]bool{
	"POST /_matrix/client/v3/logout":     true,
	"POST /_matrix/client/v3/logout/all": true,
	"POST /_matrix/client/r0/logout":     true,
	"POST /_matrix/client/r0/logout/all": true,
}

// lockedMayCall reports whether the request's route is one that a locked account may call. The
// route table stays as it is (routes.go): authed asks this of the route chi matched.
func lockedMayCall(r *http.Request) bool {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return false
	}
	return lockedRoutes[r.Method+" "+rctx.RoutePattern()]
}

// handleGetLock serves GET /_matrix/client/v1/admin/lock/{userId} (data/api/client-server/admin.yaml).
func (a *API) handleGetLock(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	locked, err := a.accounts.Locked(r.Context(), requester(r), userID)
	if err != nil {
		return err
	}
	return ok(w, map[string]bool{"locked": locked})
}

// handlePutLock serves PUT /_matrix/client/v1/admin/lock/{userId} (data/api/client-server/admin.yaml).
func (a *API) handlePutLock(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	locked, err := a.readFlag(w, r, "locked")
	if err != nil {
		return err
	}
	if err := a.accounts.SetLocked(r.Context(), requester(r), userID, locked); err != nil {
		return err
	}
	return ok(w, map[string]bool{"locked": locked})
}

// handleGetSuspension serves GET /_matrix/client/v1/admin/suspend/{userId} (data/api/client-server/admin.yaml).
func (a *API) handleGetSuspension(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	suspended, err := a.accounts.Suspended(r.Context(), requester(r), userID)
	if err != nil {
		return err
	}
	return ok(w, map[string]bool{"suspended": suspended})
}

// handlePutSuspension serves PUT /_matrix/client/v1/admin/suspend/{userId} (data/api/client-server/admin.yaml).
func (a *API) handlePutSuspension(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	suspended, err := a.readFlag(w, r, "suspended")
	if err != nil {
		return err
	}
	if err := a.accounts.SetSuspended(r.Context(), requester(r), userID, suspended); err != nil {
		return err
	}
	return ok(w, map[string]bool{"suspended": suspended})
}

// readFlag reads a body of one required boolean field, {"locked": true} or {"suspended": true}.
func (a *API) readFlag(w http.ResponseWriter, r *http.Request, field string) (bool, error) {
	var body map[string]json.RawMessage
	if err := a.readJSON(w, r, &body); err != nil {
		return false, err
	}
	raw, present := body[field]
	if !present {
		return false, mxerr.MissingParam.WithMessage("%s is required", field)
	}
	var flag bool
	if err := json.Unmarshal(raw, &flag); err != nil {
		return false, mxerr.BadJSON.WithMessage("%s must be a boolean", field)
	}
	return flag, nil
}

// checkSuspendedSend refuses with M_USER_SUSPENDED an event that a suspended requester may not
// send (accounts.Requester.CheckSend). It reads what the rule looks at: the membership of an
// m.room.member event, and the sender of the event a redaction redacts, which is redacts or,
// for a redaction sent through /send, the content's redacts.
func (a *API) checkSuspendedSend(r *http.Request, evType string, stateKey *string, content jsontext.Value, redacts id.EventID) error {
	req := requester(r)
	if !req.Suspended {
		return nil
	}
	var fields struct {
		Membership string     `json:"membership"`
		Redacts    id.EventID `json:"redacts"`
	}
	_ = json.Unmarshal(content, &fields) // fields of the wrong type count as absent
	ev := accounts.OutgoingEvent{Type: evType, StateKey: stateKey, Membership: fields.Membership}
	if redacts == "" {
		redacts = fields.Redacts
	}
	if evType == event.EventRedaction.Type && redacts != "" {
		evs, err := a.rooms.Events(r.Context(), []id.EventID{redacts})
		if err != nil {
			return err
		}
		if len(evs) == 1 {
			ev.RedactedSender = evs[0].Sender
		}
	}
	return req.CheckSend(ev)
}
