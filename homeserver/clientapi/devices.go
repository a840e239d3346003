package clientapi

import (
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

type deviceJSON struct {
	DeviceID    id.DeviceID `json:"device_id"`
	DisplayName string      `json:"display_name,omitempty"`
	LastSeenIP  string      `json:"last_seen_ip,omitempty"`
	LastSeenTS  int64       `json:"last_seen_ts,omitempty"`
}

func toDeviceJSON(d accounts.Device) deviceJSON {
	out := deviceJSON{DeviceID: d.ID, DisplayName: d.DisplayName, LastSeenIP: d.LastSeenIP}
	if !d.LastSeen.IsZero() {
		out.LastSeenTS = d.LastSeen.UnixMilli()
	}
	return out
}

// handleListDevices serves GET /_matrix/client/v3/devices (data/api/client-server/device_management.yaml).
func (a *API) handleListDevices(w http.ResponseWriter, r *http.Request) error {
	devices, err := a.accounts.Devices(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	out := make([]deviceJSON, 0, len(devices))
	for _, d := range devices {
		out = append(out, toDeviceJSON(d))
	}
	return ok(w, map[string]any{"devices": out})
}

// handleGetDevice serves GET /_matrix/client/v3/devices/{deviceId} (data/api/client-server/device_management.yaml).
func (a *API) handleGetDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := web.PathParam(r, "deviceId")
	if err != nil {
		return err
	}
	d, err := a.accounts.Device(r.Context(), requester(r).UserID, id.DeviceID(deviceID))
	if err != nil {
		return err
	}
	return ok(w, toDeviceJSON(d))
}

// handleUpdateDevice serves PUT /_matrix/client/v3/devices/{deviceId} (data/api/client-server/device_management.yaml).
func (a *API) handleUpdateDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := web.PathParam(r, "deviceId")
	if err != nil {
		return err
	}
	var body struct {
		DisplayName *string `json:"display_name"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	req := requester(r)
	if req.AppserviceID != "" && a.appservices.ManagesDevices(req.AppserviceID) {
		// MSC4190: an application service creates its users' devices with this endpoint.
		name := ""
		if body.DisplayName != nil {
			name = *body.DisplayName
		}
		created, err := a.accounts.CreateDevice(r.Context(), req.UserID, id.DeviceID(deviceID), name)
		if err != nil {
			return err
		}
		if created {
			return web.WriteJSON(w, http.StatusCreated, struct{}{})
		}
		return ok(w, nil)
	}
	if body.DisplayName == nil {
		return ok(w, nil)
	}
	if err := a.accounts.RenameDevice(r.Context(), req.UserID, id.DeviceID(deviceID), *body.DisplayName); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleDeleteDevice serves DELETE /_matrix/client/v3/devices/{deviceId} (data/api/client-server/device_management.yaml).
func (a *API) handleDeleteDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := web.PathParam(r, "deviceId")
	if err != nil {
		return err
	}
	req := requester(r)
	if _, err := a.accounts.Device(r.Context(), req.UserID, id.DeviceID(deviceID)); err != nil {
		return err
	}
	return a.deleteDevices(w, r, []id.DeviceID{id.DeviceID(deviceID)})
}

// handleDeleteDevices serves POST /_matrix/client/v3/delete_devices (data/api/client-server/device_management.yaml).
func (a *API) handleDeleteDevices(w http.ResponseWriter, r *http.Request) error {
	return a.deleteDevices(w, r, nil)
}

// deleteDevices runs the password UIA, then deletes the devices (from the path, or the body's
// "devices" list when ids is nil).
func (a *API) deleteDevices(w http.ResponseWriter, r *http.Request, ids []id.DeviceID) error {
	var body struct {
		Auth    *authDict     `json:"auth"`
		Devices []id.DeviceID `json:"devices"`
	}
	if err := a.readOptionalJSON(w, r, &body); err != nil {
		return err
	}
	if ids == nil {
		if body.Devices == nil {
			return mxerr.MissingParam.WithMessage("devices is required")
		}
		ids = body.Devices
	}
	req := requester(r)
	if req.AppserviceID != "" && a.appservices.ManagesDevices(req.AppserviceID) {
		// MSC4190: application services manage their users' devices without UIA.
		if err := a.accounts.DeleteDevices(r.Context(), req.UserID, ids); err != nil {
			return err
		}
		return ok(w, nil)
	}
	sess, err := a.uia(r, body.Auth, req.UserID, passwordFlows)
	if err != nil {
		return err
	}
	if err := a.accounts.DeleteDevices(r.Context(), req.UserID, ids); err != nil {
		return err
	}
	a.accounts.EndSession(r.Context(), sess.ID)
	return ok(w, nil)
}
