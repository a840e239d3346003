package clientapi

import (
	"net/http"
	"strconv"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/keys"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// Dehydrated devices (MSC3814, proposals/3814-dehydrated-devices-with-ssss.md in
// matrix-org/matrix-spec-proposals), under /_matrix/client/unstable/org.matrix.msc3814.v1.

// handlePutDehydratedDevice serves PUT .../dehydrated_device.
func (a *API) handlePutDehydratedDevice(w http.ResponseWriter, r *http.Request) error {
	var body keys.DehydrateRequest
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	deviceID, err := a.dehydration.Put(r.Context(), requester(r).UserID, body)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"device_id": deviceID})
}

// handleGetDehydratedDevice serves GET .../dehydrated_device.
func (a *API) handleGetDehydratedDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := a.dehydration.Get(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"device_id": d.DeviceID, "device_data": d.DeviceData})
}

// handleDeleteDehydratedDevice serves DELETE .../dehydrated_device.
func (a *API) handleDeleteDehydratedDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := a.dehydration.Delete(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"device_id": deviceID})
}

// handleDehydratedDeviceEvents serves POST .../dehydrated_device/{deviceId}/events. The body
// may be empty or carry next_batch; the limit query parameter (Synapse's) bounds the batch.
func (a *API) handleDehydratedDeviceEvents(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := web.PathParam(r, "deviceId")
	if err != nil {
		return err
	}
	limit := keys.DefaultDehydratedEventsLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return mxerr.InvalidParam.WithMessage("limit must be a positive integer")
		}
	}
	var body struct {
		NextBatch *string `json:"next_batch"`
	}
	if err := a.readOptionalJSON(w, r, &body); err != nil {
		return err
	}
	var nextBatch string
	if body.NextBatch != nil {
		nextBatch = *body.NextBatch
	}
	res, err := a.dehydration.Events(r.Context(), requester(r).UserID, id.DeviceID(deviceID), nextBatch, limit)
	if err != nil {
		return err
	}
	return ok(w, res)
}
