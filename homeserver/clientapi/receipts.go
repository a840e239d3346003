package clientapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/syncapi"
	"causeway/homeserver/web"
)

// handleReceipt serves POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}
// (data/api/client-server/receipts.yaml). The body is optional; its thread_id, when present,
// must be a non-empty string: "main" or a thread root's event ID. Which thread an event
// belongs to is not checked: thread IDs are kept as opaque keys.
func (a *API) handleReceipt(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	receiptType, err := web.PathParam(r, "receiptType")
	if err != nil {
		return err
	}
	eventID, err := web.PathEventID(r, "eventId")
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := a.readOptionalJSON(w, r, &body); err != nil {
		return err
	}
	update := syncapi.ReceiptUpdate{Type: event.ReceiptType(receiptType), EventID: eventID}
	if raw, ok := body["thread_id"]; ok {
		if json.Unmarshal(raw, &update.ThreadID) != nil || update.ThreadID == "" {
			return mxerr.InvalidParam.WithMessage("thread_id field must be a non-empty string")
		}
	}
	if err := a.sync.SetReceipts(r.Context(), roomID, requester(r).UserID, []syncapi.ReceiptUpdate{update}); err != nil {
		return err
	}
	return ok(w, nil)
}

type readMarkersBody struct {
	FullyRead   id.EventID `json:"m.fully_read"`
	Read        id.EventID `json:"m.read"`
	ReadPrivate id.EventID `json:"m.read.private"`
}

// handleReadMarkers serves POST /_matrix/client/v3/rooms/{roomId}/read_markers
// (data/api/client-server/read_markers.yaml). Every key is optional.
func (a *API) handleReadMarkers(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	var body readMarkersBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	var updates []syncapi.ReceiptUpdate
	for _, m := range []struct {
		typ     event.ReceiptType
		eventID id.EventID
	}{{syncapi.ReceiptTypeFullyRead, body.FullyRead}, {event.ReceiptTypeRead, body.Read}, {event.ReceiptTypeReadPrivate, body.ReadPrivate}} {
		if m.eventID == "" {
			continue
		}
		if !strings.HasPrefix(string(m.eventID), "$") {
			return mxerr.InvalidParam.WithMessage("%s must be an event ID", m.typ)
		}
		updates = append(updates, syncapi.ReceiptUpdate{Type: m.typ, EventID: m.eventID})
	}
	if len(updates) > 0 {
		if err := a.sync.SetReceipts(r.Context(), roomID, requester(r).UserID, updates); err != nil {
			return err
		}
	}
	return ok(w, nil)
}
