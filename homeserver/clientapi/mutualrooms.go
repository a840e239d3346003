package clientapi

import (
	"net/http"
	"slices"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
)

// mutualRoomsPage is how many rooms one page of /mutual_rooms lists.
const mutualRoomsPage = 100

// handleMutualRooms serves GET /_matrix/client/v1/mutual_rooms?user_id=…[&from=…]
// (data/api/client-server/mutual_rooms.yaml): the rooms the requester and user_id are both
// joined to, by room ID, a page at a time. from is the last room ID of the previous page.
func (a *API) handleMutualRooms(w http.ResponseWriter, r *http.Request) error {
	self := requester(r).UserID
	other := id.UserID(r.URL.Query().Get("user_id"))
	if _, _, err := other.Parse(); err != nil || other == self {
		return mxerr.InvalidParam.WithMessage("user_id must be another user's ID")
	}
	mine, err := a.rooms.JoinedRooms(r.Context(), self)
	if err != nil {
		return err
	}
	theirs, err := a.rooms.JoinedRooms(r.Context(), other)
	if err != nil {
		return err
	}
	var mutual []id.RoomID
	for _, roomID := range mine {
		if slices.Contains(theirs, roomID) {
			mutual = append(mutual, roomID)
		}
	}
	slices.Sort(mutual)
	page, next, err := mutualRoomsAfter(mutual, r.URL.Query().Get("from"))
	if err != nil {
		return err
	}
	body := map[string]any{"joined": page, "count": len(mutual)}
	if next != "" {
		body["next_batch"] = next
	}
	return ok(w, body)
}

// mutualRoomsAfter returns the page of rooms after the room ID from ("" for the first page)
// and the token of the next page, "" when there is none.
func mutualRoomsAfter(rooms []id.RoomID, from string) ([]id.RoomID, string, error) {
	start := 0
	if from != "" {
		if from[0] != '!' {
			return nil, "", mxerr.InvalidParam.WithMessage("from is not a token of this endpoint")
		}
		var found bool
		if start, found = slices.BinarySearch(rooms, id.RoomID(from)); found {
			start++ // the previous page's last room; a room left since sorts in its place
		}
	}
	end := min(start+mutualRoomsPage, len(rooms))
	page := append([]id.RoomID{}, rooms[start:end]...)
	if end < len(rooms) {
		return page, string(rooms[end-1]), nil
	}
	return page, "", nil
}
