package clientapi

import (
	"net/http"
	"strconv"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// massagedTS returns the ts query parameter an appservice may set on send and state requests
// to give the event its original timestamp (content/application-service-api.md, "Timestamp
// massaging"); 0 means now. Ordinary clients cannot set it.
func massagedTS(r *http.Request) (int64, error) {
	raw := r.URL.Query().Get("ts")
	if raw == "" || requester(r).AppserviceID == "" {
		return 0, nil
	}
	ts, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || ts <= 0 {
		return 0, mxerr.InvalidParam.WithMessage("ts must be a positive integer of milliseconds")
	}
	return ts, nil
}

// checkAlias refuses an alias that an appservice other than the requester's holds exclusively.
func (a *API) checkAlias(r *http.Request, alias id.RoomAlias) error {
	if a.appservices == nil {
		return nil
	}
	return a.appservices.CheckAlias(alias, requester(r).AppserviceID)
}

// resolveAlias resolves a local alias, first asking the appservices that cover it to create it
// if it does not exist yet (auto-provisioned portals).
func (a *API) resolveAlias(r *http.Request, alias id.RoomAlias) (id.RoomID, error) {
	roomID, err := a.rooms.ResolveAlias(r.Context(), alias)
	if err == nil || a.appservices == nil || !isNotFound(err) {
		return roomID, err
	}
	if !a.appservices.QueryAlias(r.Context(), alias) {
		return "", err
	}
	return a.rooms.ResolveAlias(r.Context(), alias)
}

// provisionUser asks the appservices covering a user that does not exist yet to create it,
// before the user is invited or looked up.
func (a *API) provisionUser(r *http.Request, userID id.UserID) {
	if a.appservices == nil {
		return
	}
	if _, err := a.accounts.Profile(r.Context(), userID); isNotFound(err) {
		a.appservices.QueryUser(r.Context(), userID)
	}
}

func isNotFound(err error) bool {
	return err != nil && mxerr.NotFound.Is(err)
}

// handleAppservicePing serves POST /_matrix/client/v1/appservice/{appserviceId}/ping
// (data/api/client-server/appservice_ping.yaml).
func (a *API) handleAppservicePing(w http.ResponseWriter, r *http.Request) error {
	appserviceID, err := web.PathParam(r, "appserviceId")
	if err != nil {
		return err
	}
	req := requester(r)
	if req.AppserviceID == "" || a.appservices == nil {
		return mxerr.Forbidden.WithMessage("only application services may ping")
	}
	var body struct {
		TransactionID string `json:"transaction_id"`
	}
	if err := a.readOptionalJSON(w, r, &body); err != nil {
		return err
	}
	elapsed, err := a.appservices.Ping(r.Context(), appserviceID, req.AppserviceID, body.TransactionID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"duration_ms": elapsed.Milliseconds()})
}

// handleListGrants serves GET /_matrix/client/unstable/io.causeway/appservice_grants: the
// appservices the user lets act as them (double puppeting without handing out tokens).
func (a *API) handleListGrants(w http.ResponseWriter, r *http.Request) error {
	if a.appservices == nil {
		return ok(w, map[string]any{"appservices": []string{}})
	}
	grants, err := a.appservices.Grants(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	if grants == nil {
		grants = []string{}
	}
	return ok(w, map[string]any{"appservices": grants})
}

// handlePutGrant serves PUT /_matrix/client/unstable/io.causeway/appservice_grants/{appserviceId}:
// the user lets the appservice act as them. Appservices cannot grant themselves anything.
func (a *API) handlePutGrant(w http.ResponseWriter, r *http.Request) error {
	appserviceID, err := web.PathParam(r, "appserviceId")
	if err != nil {
		return err
	}
	req := requester(r)
	if req.AppserviceID != "" || a.appservices == nil {
		return mxerr.Forbidden.WithMessage("grants are made by users themselves")
	}
	if err := a.appservices.Grant(r.Context(), req.UserID, appserviceID, time.Now().UnixMilli()); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleDeleteGrant serves DELETE /_matrix/client/unstable/io.causeway/appservice_grants/{appserviceId}.
func (a *API) handleDeleteGrant(w http.ResponseWriter, r *http.Request) error {
	appserviceID, err := web.PathParam(r, "appserviceId")
	if err != nil {
		return err
	}
	req := requester(r)
	if req.AppserviceID != "" || a.appservices == nil {
		return mxerr.Forbidden.WithMessage("grants are revoked by users themselves")
	}
	if err := a.appservices.Revoke(r.Context(), req.UserID, appserviceID); err != nil {
		return err
	}
	return ok(w, nil)
}
