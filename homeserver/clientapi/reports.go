package clientapi

import (
	"net/http"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// reportBody is the body of the report endpoints; reason may be blank.
type reportBody struct {
	Reason *string `json:"reason"`
}

// readReason reads a report's body, whose reason is required (it may be blank).
func (a *API) readReason(w http.ResponseWriter, r *http.Request) (string, error) {
	var body reportBody
	if err := a.readJSON(w, r, &body); err != nil {
		return "", err
	}
	if body.Reason == nil {
		return "", mxerr.MissingParam.WithMessage("reason is required (it may be blank)")
	}
	return *body.Reason, nil
}

// handleReportEvent serves POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}
// (data/api/client-server/report_content.yaml).
func (a *API) handleReportEvent(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	eventID, err := web.PathEventID(r, "eventId")
	if err != nil {
		return err
	}
	var body reportBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	reason := ""
	if body.Reason != nil {
		reason = *body.Reason
	}
	if err := a.moderation.ReportEvent(r.Context(), requester(r).UserID, roomID, eventID, reason); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleReportRoom serves POST /_matrix/client/v3/rooms/{roomId}/report.
func (a *API) handleReportRoom(w http.ResponseWriter, r *http.Request) error {
	roomID, err := web.PathRoomID(r, "roomId")
	if err != nil {
		return err
	}
	reason, err := a.readReason(w, r)
	if err != nil {
		return err
	}
	if err := a.moderation.ReportRoom(r.Context(), requester(r).UserID, roomID, reason); err != nil {
		return err
	}
	return ok(w, nil)
}

// handleReportUser serves POST /_matrix/client/v3/users/{userId}/report.
func (a *API) handleReportUser(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	reason, err := a.readReason(w, r)
	if err != nil {
		return err
	}
	if err := a.moderation.ReportUser(r.Context(), requester(r).UserID, userID, reason); err != nil {
		return err
	}
	return ok(w, nil)
}
