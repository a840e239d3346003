package clientapi

import (
	"encoding/json"
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/keys"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// maxToDeviceBodyBytes is the body limit of /sendToDevice when the configured limit is lower.
// Clients share a room key with every device in a room in one request (matrix-rust-sdk sends
// up to 250 Olm-encrypted messages of about 2 KB each), which the general limit for JSON
// bodies would refuse.
const maxToDeviceBodyBytes = 1 << 20

// handleSendToDevice serves PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}
// (data/api/client-server/to_device.yaml).
func (a *API) handleSendToDevice(w http.ResponseWriter, r *http.Request) error {
	evType, err := web.PathParam(r, "eventType")
	if err != nil {
		return err
	}
	txnID, err := web.PathParam(r, "txnId")
	if err != nil {
		return err
	}
	var body struct {
		Messages map[id.UserID]map[id.DeviceID]json.RawMessage `json:"messages"`
	}
	if err := web.ReadJSON(w, r, max(a.cfg.MaxRequestBodyBytes, maxToDeviceBodyBytes), &body); err != nil {
		return err
	}
	if body.Messages == nil {
		return mxerr.MissingParam.WithMessage("messages is required")
	}
	req := requester(r)
	err = a.toDevice.Send(r.Context(), keys.SendToDevice{
		Sender: req.UserID, SenderDevice: req.DeviceID, Type: evType, TxnID: txnID, Messages: body.Messages,
	})
	if err != nil {
		return err
	}
	return ok(w, nil)
}
