package clientapi

import (
	"encoding/json/jsontext"
	"net/http"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
	"causeway/homeserver/web"
)

// readContent reads an event content body: any JSON object (ReadJSON refuses anything else).
func (a *API) readContent(w http.ResponseWriter, r *http.Request) (jsontext.Value, error) {
	var content jsontext.Value
	if err := a.readJSON(w, r, &content); err != nil {
		return nil, err
	}
	return content, nil
}

// handleSendMessage serves PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} (data/api/client-server/room_send.yaml).
func (a *API) handleSendMessage(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	evType, err := web.PathParam(r, "eventType")
	if err != nil {
		return err
	}
	txnID, err := web.PathParam(r, "txnId")
	if err != nil {
		return err
	}
	content, err := a.readContent(w, r)
	if err != nil {
		return err
	}
	if err := a.checkSuspendedSend(r, evType, nil, content, ""); err != nil {
		return err
	}
	ts, err := massagedTS(r)
	if err != nil {
		return err
	}
	req := requester(r)
	ev, err := a.rooms.Send(r.Context(), roomID, rooms.ProtoEvent{
		Type: evType, Sender: req.UserID, Content: content, Timestamp: ts, TxnDevice: req.DeviceID, TxnID: txnID,
		TxnScope: "send " + string(roomID) + " " + evType,
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"event_id": ev.ID})
}

// handleSetState serves PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (data/api/client-server/room_state.yaml).
func (a *API) handleSetState(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	evType, stateKey, err := stateParams(r)
	if err != nil {
		return err
	}
	content, err := a.readContent(w, r)
	if err != nil {
		return err
	}
	if err := a.checkSuspendedSend(r, evType, &stateKey, content, ""); err != nil {
		return err
	}
	ts, err := massagedTS(r)
	if err != nil {
		return err
	}
	req := requester(r)
	ev, err := a.rooms.Send(r.Context(), roomID, rooms.ProtoEvent{
		Type: evType, StateKey: &stateKey, Sender: req.UserID, Content: content, Timestamp: ts, TxnDevice: req.DeviceID,
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"event_id": ev.ID})
}

// stateParams reads {eventType} and {stateKey}; the routes without a state key give "".
func stateParams(r *http.Request) (string, string, error) {
	evType, err := web.PathParam(r, "eventType")
	if err != nil {
		return "", "", err
	}
	stateKey, err := web.PathParam(r, "stateKey")
	return evType, stateKey, err
}

// handleGetState serves GET /_matrix/client/v3/rooms/{roomId}/state (data/api/client-server/room_state.yaml).
func (a *API) handleGetState(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	req := requester(r)
	st, err := a.rooms.ViewerState(r.Context(), roomID, req.UserID)
	if err != nil {
		return err
	}
	evs, err := a.rooms.StateEvents(r.Context(), st, nil)
	if err != nil {
		return err
	}
	out, err := a.rooms.FormatEvents(r.Context(), evs, rooms.FormatOptions{Viewer: req.UserID, Device: req.DeviceID})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*rooms.ClientEvent{}
	}
	return ok(w, out)
}

// handleGetStateEvent serves GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (data/api/client-server/room_state.yaml).
func (a *API) handleGetStateEvent(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	evType, stateKey, err := stateParams(r)
	if err != nil {
		return err
	}
	req := requester(r)
	st, err := a.rooms.ViewerState(r.Context(), roomID, req.UserID)
	if err != nil {
		return err
	}
	evID, found := st[storage.StateKey{Type: evType, StateKey: stateKey}]
	if !found {
		return mxerr.NotFound.WithMessage("no %s state with key %q in %s", evType, stateKey, roomID)
	}
	ev, err := a.loadEvent(r, evID)
	if err != nil {
		return err
	}
	ce, err := a.rooms.FormatEvent(r.Context(), ev, rooms.FormatOptions{Viewer: req.UserID, Device: req.DeviceID})
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "event" {
		return ok(w, ce)
	}
	return ok(w, ce.Content)
}

func (a *API) loadEvent(r *http.Request, evID id.EventID) (*storage.Event, error) {
	evs, err := a.rooms.Events(r.Context(), []id.EventID{evID})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, mxerr.NotFound.WithMessage("event %s not found", evID)
	}
	return evs[0], nil
}

type redactBody struct {
	Reason string `json:"reason,omitempty"`
}

// handleRedact serves PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} (data/api/client-server/redaction.yaml).
func (a *API) handleRedact(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	target, err := web.PathEventID(r, "eventId")
	if err != nil {
		return err
	}
	txnID, err := web.PathParam(r, "txnId")
	if err != nil {
		return err
	}
	content, err := a.readContent(w, r)
	if err != nil {
		return err
	}
	if err := a.checkSuspendedSend(r, event.EventRedaction.Type, nil, content, target); err != nil {
		return err
	}
	req := requester(r)
	ev, err := a.rooms.Send(r.Context(), roomID, rooms.ProtoEvent{
		Type: event.EventRedaction.Type, Sender: req.UserID, Content: content, Redacts: target,
		TxnDevice: req.DeviceID, TxnID: txnID, TxnScope: "redact " + string(roomID) + " " + string(target),
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"event_id": ev.ID})
}

// handleGetEvent serves GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} (data/api/client-server/rooms.yaml).
func (a *API) handleGetEvent(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	evID, err := web.PathEventID(r, "eventId")
	if err != nil {
		return err
	}
	req := requester(r)
	ev, err := a.rooms.VisibleEvent(r.Context(), roomID, evID, req.UserID)
	if err != nil {
		return err
	}
	ce, err := a.rooms.FormatEvent(r.Context(), ev, rooms.FormatOptions{Viewer: req.UserID, Device: req.DeviceID})
	if err != nil {
		return err
	}
	return ok(w, ce)
}

// handleGetMembers serves GET /_matrix/client/v3/rooms/{roomId}/members (data/api/client-server/rooms.yaml).
func (a *API) handleGetMembers(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	req := requester(r)
	q := r.URL.Query()
	membership, notMembership := q.Get("membership"), q.Get("not_membership")
	st, err := a.rooms.ViewerState(r.Context(), roomID, req.UserID)
	if err != nil {
		return err
	}
	evs, err := a.rooms.StateEvents(r.Context(), st, func(k storage.StateKey) bool { return k.Type == event.StateMember.Type })
	if err != nil {
		return err
	}
	kept := evs[:0]
	for _, ev := range evs {
		if (membership == "" || ev.Membership == membership) && (notMembership == "" || ev.Membership != notMembership) {
			kept = append(kept, ev)
		}
	}
	out, err := a.rooms.FormatEvents(r.Context(), kept, rooms.FormatOptions{Viewer: req.UserID, Device: req.DeviceID})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*rooms.ClientEvent{}
	}
	return ok(w, map[string]any{"chunk": out})
}

// handleJoinedMembers serves GET /_matrix/client/v3/rooms/{roomId}/joined_members (data/api/client-server/rooms.yaml).
func (a *API) handleJoinedMembers(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	members, err := a.rooms.JoinedMembers(r.Context(), roomID, requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"joined": members})
}
