package clientapi

import (
	"net/http"
	"time"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

type typingBody struct {
	Typing  *bool  `json:"typing"`
	Timeout *int64 `json:"timeout"` // milliseconds
}

// handleTyping serves PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} (data/api/client-server/typing.yaml).
func (a *API) handleTyping(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	var body typingBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Typing == nil {
		return mxerr.MissingParam.WithMessage("typing is required")
	}
	var timeout time.Duration
	if body.Timeout != nil {
		if *body.Timeout < 0 {
			return mxerr.InvalidParam.WithMessage("timeout must not be negative")
		}
		timeout = time.Duration(min(*body.Timeout, int64(time.Hour/time.Millisecond))) * time.Millisecond
	}
	if err := a.sync.SetTyping(r.Context(), roomID, userID, *body.Typing, timeout); err != nil {
		return err
	}
	return ok(w, nil)
}
