package clientapi

import (
	"net/http"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/web"
)

// handleGetDirectoryVisibility serves GET /_matrix/client/v3/directory/list/room/{roomId}
// (data/api/client-server/list_public_rooms.yaml).
func (a *API) handleGetDirectoryVisibility(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	visibility, err := a.rooms.DirectoryVisibility(r.Context(), roomID)
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"visibility": visibility})
}

// handleSetDirectoryVisibility serves PUT /_matrix/client/v3/directory/list/room/{roomId}
// (data/api/client-server/list_public_rooms.yaml).
func (a *API) handleSetDirectoryVisibility(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	var body struct {
		Visibility *string `json:"visibility"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	visibility := rooms.VisibilityPublic // the spec's default
	if body.Visibility != nil {
		visibility = *body.Visibility
	}
	req := requester(r)
	if err := a.rooms.SetDirectoryVisibility(r.Context(), roomID, req.UserID, req.IsAdmin, visibility); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleSetAppserviceDirectoryVisibility serves PUT
// /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}
// (data/api/client-server/appservice_room_directory.yaml).
func (a *API) handleSetAppserviceDirectoryVisibility(w http.ResponseWriter, r *http.Request) error {
	networkID, err := web.PathParam(r, "networkId")
	if err != nil {
		return err
	}
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	var body struct {
		Visibility *string `json:"visibility"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Visibility == nil {
		return mxerr.MissingParam.WithMessage("visibility is required")
	}
	req := requester(r)
	err = a.rooms.SetNetworkVisibility(r.Context(), rooms.NetworkVisibilityRequest{
		AppserviceID: req.AppserviceID, UserID: req.UserID, NetworkID: networkID, RoomID: roomID, Visibility: *body.Visibility,
	})
	if err != nil {
		return err
	}
	return ok(w, nil)
}

// handleGetPublicRooms serves GET /_matrix/client/v3/publicRooms
// (data/api/client-server/list_public_rooms.yaml). It needs no access token, as the spec
// gives it none. Besides the spec's parameters it takes include_all_networks and
// third_party_instance_id as POST does, as Synapse and mautrix-go's client do.
func (a *API) handleGetPublicRooms(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	q := rooms.DirectoryQuery{
		Since:                query.Get("since"),
		Server:               query.Get("server"),
		ThirdPartyInstanceID: query.Get("third_party_instance_id"),
	}
	if v := query.Get("limit"); v != "" {
		limit, err := strconv.Atoi(v)
		if err != nil {
			return mxerr.InvalidParam.WithMessage("limit must be an integer")
		}
		q.Limit = limit
	}
	if v := query.Get("include_all_networks"); v != "" {
		all, err := strconv.ParseBool(v)
		if err != nil {
			return mxerr.InvalidParam.WithMessage("include_all_networks must be true or false")
		}
		q.IncludeAllNetworks = all
	}
	page, err := a.rooms.PublicRooms(r.Context(), q)
	if err != nil {
		return err
	}
	return ok(w, page)
}

// handleQueryPublicRooms serves POST /_matrix/client/v3/publicRooms
// (data/api/client-server/list_public_rooms.yaml).
func (a *API) handleQueryPublicRooms(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Limit  int    `json:"limit"`
		Since  string `json:"since"`
		Filter *struct {
			GenericSearchTerm string    `json:"generic_search_term"`
			RoomTypes         []*string `json:"room_types"`
		} `json:"filter"`
		IncludeAllNetworks   bool   `json:"include_all_networks"`
		ThirdPartyInstanceID string `json:"third_party_instance_id"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	q := rooms.DirectoryQuery{
		Limit:                body.Limit,
		Since:                body.Since,
		Server:               r.URL.Query().Get("server"),
		IncludeAllNetworks:   body.IncludeAllNetworks,
		ThirdPartyInstanceID: body.ThirdPartyInstanceID,
	}
	if body.Filter != nil {
		q.SearchTerm, q.RoomTypes = body.Filter.GenericSearchTerm, body.Filter.RoomTypes
	}
	page, err := a.rooms.PublicRooms(r.Context(), q)
	if err != nil {
		return err
	}
	return ok(w, page)
}

// handleHierarchy serves GET /_matrix/client/v1/rooms/{roomId}/hierarchy
// (data/api/client-server/space_hierarchy.yaml).
func (a *API) handleHierarchy(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	hq := rooms.HierarchyQuery{UserID: requester(r).UserID, RoomID: roomID, MaxDepth: -1, Limit: rooms.DefaultHierarchyLimit, From: q.Get("from")}
	switch q.Get("suggested_only") {
	case "", "false":
	case "true":
		hq.SuggestedOnly = true
	default:
		return mxerr.InvalidParam.WithMessage("suggested_only must be true or false")
	}
	if s := q.Get("limit"); s != "" {
		if hq.Limit, err = strconv.Atoi(s); err != nil || hq.Limit < 1 {
			return mxerr.InvalidParam.WithMessage("limit must be an integer greater than 0")
		}
		hq.Limit = min(hq.Limit, rooms.MaxHierarchyLimit)
	}
	if s := q.Get("max_depth"); s != "" {
		if hq.MaxDepth, err = strconv.Atoi(s); err != nil || hq.MaxDepth < 0 {
			return mxerr.InvalidParam.WithMessage("max_depth must be a non-negative integer")
		}
	}
	h, err := a.rooms.Hierarchy(r.Context(), hq)
	if err != nil {
		return err
	}
	return ok(w, h)
}

// handleRoomSummary serves GET /_matrix/client/v1/room_summary/{roomIdOrAlias}
// (data/api/client-server/room_summary.yaml), for authenticated users.
func (a *API) handleRoomSummary(w http.ResponseWriter, r *http.Request) error {
	target, err := web.PathParam(r, "roomIdOrAlias")
	if err != nil {
		return err
	}
	roomID := id.RoomID(target)
	if strings.HasPrefix(target, "#") {
		if roomID, err = a.rooms.ResolveAlias(r.Context(), id.RoomAlias(target)); err != nil {
			return err
		}
	} else if !strings.HasPrefix(target, "!") {
		return mxerr.InvalidParam.WithMessage("%q is neither a room ID nor an alias", target)
	}
	sum, err := a.rooms.Summary(r.Context(), requester(r).UserID, roomID)
	if err != nil {
		return err
	}
	return ok(w, sum)
}
