package clientapi

import (
	"net/http"
	"strconv"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/syncapi"
	"causeway/homeserver/web"
)

// handleRelations serves GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}, with
// /{relType} and /{relType}/{eventType} (data/api/client-server/relations.yaml).
func (a *API) handleRelations(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	eventID, err := web.PathEventID(r, "eventId")
	if err != nil {
		return err
	}
	req := requester(r)
	rreq := syncapi.RelationsRequest{UserID: req.UserID, DeviceID: req.DeviceID, RoomID: roomID, EventID: eventID}
	if rreq.RelType, err = web.PathParam(r, "relType"); err != nil {
		return err
	}
	if rreq.EventType, err = web.PathParam(r, "eventType"); err != nil {
		return err
	}
	q := r.URL.Query()
	rreq.From, rreq.To = q.Get("from"), q.Get("to")
	switch q.Get("dir") {
	case "", "b":
	case "f":
		rreq.Forward = true
	default:
		return mxerr.InvalidParam.WithMessage("dir must be b or f")
	}
	if rreq.Limit, err = queryLimit(r); err != nil {
		return err
	}
	if rreq.Recurse, err = queryRecurse(r); err != nil {
		return err
	}
	resp, err := a.sync.Relations(r.Context(), rreq)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// handleThreads serves GET /_matrix/client/v1/rooms/{roomId}/threads
// (data/api/client-server/threads_list.yaml).
func (a *API) handleThreads(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	req := requester(r)
	treq := syncapi.ThreadsRequest{UserID: req.UserID, DeviceID: req.DeviceID, RoomID: roomID, From: r.URL.Query().Get("from")}
	switch r.URL.Query().Get("include") {
	case "", "all":
	case "participated":
		treq.Participated = true
	default:
		return mxerr.InvalidParam.WithMessage("include must be all or participated")
	}
	if treq.Limit, err = queryLimit(r); err != nil {
		return err
	}
	resp, err := a.sync.Threads(r.Context(), treq)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// queryRecurse reads the recurse query parameter of /relations: nil when absent, for the
// answer must say recursion_depth exactly when the client gave it.
func queryRecurse(r *http.Request) (*bool, error) {
	q := r.URL.Query()
	if !q.Has("recurse") {
		return nil, nil
	}
	var recurse bool
	switch q.Get("recurse") {
	case "true":
		recurse = true
	case "false":
	default:
		return nil, mxerr.InvalidParam.WithMessage("recurse must be true or false")
	}
	return &recurse, nil
}

// queryLimit reads the limit query parameter: 0 when absent, for the endpoint's default.
func queryLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, mxerr.InvalidParam.WithMessage("limit must be a positive integer")
	}
	return n, nil
}
