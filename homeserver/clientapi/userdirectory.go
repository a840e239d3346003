package clientapi

import (
	"net/http"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
)

// Bounds on a user directory search's results.
const (
	defaultUserSearchLimit = 10
	maxUserSearchLimit     = 100
)

// userSearchBody is the body of /user_directory/search.
type userSearchBody struct {
	SearchTerm *string `json:"search_term"`
	Limit      *int    `json:"limit"`
}

// handleUserDirectorySearch serves POST /_matrix/client/v3/user_directory/search
// (data/api/client-server/users.yaml).
func (a *API) handleUserDirectorySearch(w http.ResponseWriter, r *http.Request) error {
	var body userSearchBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.SearchTerm == nil {
		return mxerr.MissingParam.WithMessage("search_term is required")
	}
	limit := defaultUserSearchLimit
	if body.Limit != nil {
		if *body.Limit < 0 {
			return mxerr.InvalidParam.WithMessage("limit must not be negative")
		}
		limit = min(*body.Limit, maxUserSearchLimit)
	}
	results, limited, err := a.rooms.SearchUserDirectory(r.Context(), requester(r).UserID, *body.SearchTerm, limit)
	if err != nil {
		return err
	}
	if results == nil {
		results = []rooms.DirectoryUser{}
	}
	return ok(w, map[string]any{"results": results, "limited": limited})
}
