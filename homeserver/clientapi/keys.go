package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/keys"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/syncapi"
)

// handleUploadKeys serves POST /_matrix/client/v3/keys/upload (data/api/client-server/keys.yaml).
func (a *API) handleUploadKeys(w http.ResponseWriter, r *http.Request) error {
	var body keys.UploadRequest
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	counts, err := a.keys.Upload(r.Context(), req.UserID, req.DeviceID, body)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"one_time_key_counts": counts})
}

// handleQueryKeys serves POST /_matrix/client/v3/keys/query (data/api/client-server/keys.yaml).
// The timeout is not used: users of other servers are reported in failures at once.
func (a *API) handleQueryKeys(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		DeviceKeys map[id.UserID][]id.DeviceID `json:"device_keys"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.DeviceKeys == nil {
		return mxerr.MissingParam.WithMessage("device_keys is required")
	}
	res, err := a.keys.Query(r.Context(), requester(r).UserID, body.DeviceKeys)
	if err != nil {
		return err
	}
	return ok(w, res)
}

// handleClaimKeys serves POST /_matrix/client/v3/keys/claim (data/api/client-server/keys.yaml).
func (a *API) handleClaimKeys(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		OneTimeKeys map[id.UserID]map[id.DeviceID]string `json:"one_time_keys"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.OneTimeKeys == nil {
		return mxerr.MissingParam.WithMessage("one_time_keys is required")
	}
	res, err := a.keys.Claim(r.Context(), body.OneTimeKeys)
	if err != nil {
		return err
	}
	return ok(w, res)
}

// handleKeyChanges serves GET /_matrix/client/v3/keys/changes (data/api/client-server/keys.yaml).
func (a *API) handleKeyChanges(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if !q.Has("from") || !q.Has("to") {
		return mxerr.MissingParam.WithMessage("from and to are required")
	}
	from, err := syncapi.ParseStreamToken(q.Get("from"))
	if err != nil {
		return err
	}
	to, err := syncapi.ParseStreamToken(q.Get("to"))
	if err != nil {
		return err
	}
	lists, err := a.sync.KeyChanges(r.Context(), requester(r).UserID, from, to)
	if err != nil {
		return err
	}
	out := struct {
		Changed []id.UserID `json:"changed"`
		Left    []id.UserID `json:"left"`
	}{Changed: lists.Changed, Left: lists.Left}
	if out.Changed == nil {
		out.Changed = []id.UserID{}
	}
	if out.Left == nil {
		out.Left = []id.UserID{}
	}
	return ok(w, out)
}

// handleUploadCrossSigningKeys serves POST /_matrix/client/v3/keys/device_signing/upload
// (data/api/client-server/cross_signing.yaml). User-interactive auth (the password) is asked
// for only when the upload would replace keys, and never of an application service.
func (a *API) handleUploadCrossSigningKeys(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		keys.CrossSigningUpload
		Auth *authDict `json:"auth"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	ctx := r.Context()
	err := a.keys.UploadCrossSigningKeys(ctx, req.UserID, body.CrossSigningUpload, req.AppserviceID != "")
	if !errors.Is(err, keys.ErrAuthRequired) {
		if err != nil {
			return err
		}
		return ok(w, nil)
	}
	sess, err := a.uia(r, body.Auth, req.UserID, passwordFlows)
	if err != nil {
		return err
	}
	if err := a.keys.UploadCrossSigningKeys(ctx, req.UserID, body.CrossSigningUpload, true); err != nil {
		return err
	}
	a.accounts.EndSession(ctx, sess.ID)
	return ok(w, nil)
}

// handleUploadSignatures serves POST /_matrix/client/v3/keys/signatures/upload
// (data/api/client-server/cross_signing.yaml).
func (a *API) handleUploadSignatures(w http.ResponseWriter, r *http.Request) error {
	var body map[id.UserID]map[string]json.RawMessage
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	failures, err := a.keys.UploadSignatures(r.Context(), requester(r).UserID, body)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"failures": failures})
}
