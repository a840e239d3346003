package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/syncapi"
	"causeway/homeserver/web"
)

// maxSyncTimeout caps a long poll; clients ask for 30 s, some for far more.
const maxSyncTimeout = 5 * time.Minute

// handleSync serves GET /_matrix/client/v3/sync (data/api/client-server/sync.yaml).
func (a *API) handleSync(w http.ResponseWriter, r *http.Request) error {
	req := requester(r)
	q := r.URL.Query()
	sreq := syncapi.Request{UserID: req.UserID, DeviceID: req.DeviceID, FullState: q.Get("full_state") == "true"}
	switch p := q.Get("set_presence"); p {
	case "", "online", "offline", "unavailable":
		sreq.SetPresence = p
	default:
		return mxerr.InvalidParam.WithMessage("set_presence must be online, offline or unavailable")
	}
	if since := q.Get("since"); since != "" {
		tok, err := syncapi.ParseStreamToken(since)
		if err != nil {
			return err
		}
		sreq.Since = &tok
	}
	if t := q.Get("timeout"); t != "" {
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil || ms < 0 {
			return mxerr.InvalidParam.WithMessage("timeout must be a non-negative integer of milliseconds")
		}
		sreq.Timeout = min(time.Duration(ms)*time.Millisecond, maxSyncTimeout)
	}
	if f := q.Get("filter"); f != "" {
		filter, err := a.loadFilter(r, f)
		if err != nil {
			return err
		}
		sreq.Filter = filter
	}
	resp, err := a.sync.Sync(r.Context(), sreq)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// loadFilter reads the filter parameter: inline JSON or the ID of a stored filter.
func (a *API) loadFilter(r *http.Request, f string) (mautrix.Filter, error) {
	if strings.HasPrefix(strings.TrimSpace(f), "{") {
		return syncapi.ParseFilter([]byte(f))
	}
	filter, err := a.sync.Filter(r.Context(), requester(r).UserID, f)
	if errors.Is(err, mxerr.NotFound) {
		// An unknown filter ID is a bad parameter of /sync, not a missing resource (as Synapse).
		return mautrix.Filter{}, mxerr.InvalidParam.WithMessage("no filter %q", f)
	}
	return filter, err
}

// handleMessages serves GET /_matrix/client/v3/rooms/{roomId}/messages (data/api/client-server/message_pagination.yaml).
func (a *API) handleMessages(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	req := requester(r)
	q := r.URL.Query()
	mreq := syncapi.MessagesRequest{UserID: req.UserID, DeviceID: req.DeviceID, RoomID: roomID, From: q.Get("from"), To: q.Get("to")}
	switch q.Get("dir") {
	case "b":
		mreq.Backward = true
	case "f":
	default:
		return mxerr.InvalidParam.WithMessage("dir must be b or f")
	}
	if l := q.Get("limit"); l != "" {
		if mreq.Limit, err = strconv.Atoi(l); err != nil || mreq.Limit < 0 {
			return mxerr.InvalidParam.WithMessage("limit must be a non-negative integer")
		}
	}
	if f := q.Get("filter"); f != "" {
		if mreq.Filter, err = syncapi.ParseRoomEventFilter([]byte(f)); err != nil {
			return err
		}
	}
	resp, err := a.sync.Messages(r.Context(), mreq)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// handleContext serves GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}
// (data/api/client-server/event_context.yaml).
func (a *API) handleContext(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	eventID, err := web.PathEventID(r, "eventId")
	if err != nil {
		return err
	}
	req := requester(r)
	creq := syncapi.ContextRequest{UserID: req.UserID, DeviceID: req.DeviceID, RoomID: roomID, EventID: eventID, Limit: -1}
	q := r.URL.Query()
	if l := q.Get("limit"); l != "" {
		if creq.Limit, err = strconv.Atoi(l); err != nil || creq.Limit < 0 {
			return mxerr.InvalidParam.WithMessage("limit must be a non-negative integer")
		}
	}
	if f := q.Get("filter"); f != "" {
		if creq.Filter, err = syncapi.ParseRoomEventFilter([]byte(f)); err != nil {
			return err
		}
	}
	resp, err := a.sync.Context(r.Context(), creq)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// handleTimestampToEvent serves GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event
// (data/api/client-server/room_event_by_timestamp.yaml).
func (a *API) handleTimestampToEvent(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil || ts < 0 {
		return mxerr.InvalidParam.WithMessage("ts must be a timestamp in milliseconds")
	}
	dir := q.Get("dir")
	if dir != "f" && dir != "b" {
		return mxerr.InvalidParam.WithMessage("dir must be f or b")
	}
	found, err := a.sync.EventNearTime(r.Context(), requester(r).UserID, roomID, ts, dir == "f")
	if err != nil {
		return err
	}
	return ok(w, found)
}

// handleRoomInitialSync serves GET /_matrix/client/v3/rooms/{roomId}/initialSync
// (data/api/client-server/room_initial_sync.yaml).
func (a *API) handleRoomInitialSync(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	req := requester(r)
	resp, err := a.sync.RoomInitialSync(r.Context(), req.UserID, req.DeviceID, roomID)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// handlePeek serves GET /_matrix/client/v3/events?room_id=…[&from=…&timeout=…]
// (data/api/client-server/peeking_events.yaml). The deprecated /events of old_sync.yaml, without
// room_id, is not served: /sync replaced it.
func (a *API) handlePeek(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	roomID := id.RoomID(q.Get("room_id"))
	if roomID == "" {
		return mxerr.MissingParam.WithMessage("room_id is required: /events serves peeking only; use /sync")
	}
	var timeout time.Duration
	if t := q.Get("timeout"); t != "" {
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil || ms < 0 {
			return mxerr.InvalidParam.WithMessage("timeout must be a non-negative number of milliseconds")
		}
		timeout = min(time.Duration(ms)*time.Millisecond, maxSyncTimeout)
	}
	req := requester(r)
	resp, err := a.sync.Peek(r.Context(), req.UserID, req.DeviceID, roomID, q.Get("from"), timeout)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// handleCreateFilter serves POST /_matrix/client/v3/user/{userId}/filter (data/api/client-server/filter.yaml).
func (a *API) handleCreateFilter(w http.ResponseWriter, r *http.Request) error {
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	var body json.RawMessage
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	filterID, err := a.sync.SaveFilter(r.Context(), userID, body)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"filter_id": filterID})
}

// handleGetFilter serves GET /_matrix/client/v3/user/{userId}/filter/{filterId} (data/api/client-server/filter.yaml).
func (a *API) handleGetFilter(w http.ResponseWriter, r *http.Request) error {
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	filterID, err := web.PathParam(r, "filterId")
	if err != nil {
		return err
	}
	raw, err := a.sync.RawFilter(r.Context(), userID, filterID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(raw)
	return err
}

// pathSelf reads {userId} and requires it to be the requester (you manage only your own).
func (a *API) pathSelf(r *http.Request) (id.UserID, error) {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return "", err
	}
	if userID != requester(r).UserID {
		return "", mxerr.Forbidden.WithMessage("you may only do this for yourself")
	}
	return userID, nil
}
