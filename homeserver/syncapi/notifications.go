package syncapi

import (
	"context"
	"encoding/json"
	"strconv"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/push"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// Bounds on a page of /notifications.
const (
	defaultNotificationsLimit = 20
	maxNotificationsLimit     = 100
)

// NotificationsRequest is one GET /notifications (data/api/client-server/notifications.yaml).
type NotificationsRequest struct {
	UserID        id.UserID
	DeviceID      id.DeviceID
	From          string // next_token of an earlier page; "" for the newest
	Limit         int    // 0: the default
	OnlyHighlight bool
}

// NotificationsResponse is the answer of /notifications.
type NotificationsResponse struct {
	NextToken     string         `json:"next_token,omitempty"`
	Notifications []Notification `json:"notifications"`
}

// Notification is an event the user was notified about, with the actions of the rule that
// matched it and whether they have read it since.
type Notification struct {
	Actions json.RawMessage    `json:"actions"`
	Event   *rooms.ClientEvent `json:"event"`
	Read    bool               `json:"read"`
	RoomID  id.RoomID          `json:"room_id"`
	TS      int64              `json:"ts"`
}

// Notifications pages backwards through the events that notified the user, newest first.
// The token is the stream position of the last notification of a page.
func (s *Service) Notifications(ctx context.Context, req NotificationsRequest) (*NotificationsResponse, error) {
	var before int64
	if req.From != "" {
		var err error
		if before, err = strconv.ParseInt(req.From, 10, 64); err != nil || before <= 0 {
			return nil, mxerr.InvalidParam.WithMessage("invalid from token %q", req.From)
		}
	}
	limit := req.Limit
	if limit <= 0 {
		limit = defaultNotificationsLimit
	}
	limit = min(limit, maxNotificationsLimit)
	rows, err := s.db.PushActionsOf(ctx, req.UserID, before, true, req.OnlyHighlight, limit)
	if err != nil {
		return nil, err
	}
	resp := &NotificationsResponse{Notifications: []Notification{}}
	if len(rows) == limit {
		resp.NextToken = strconv.FormatInt(rows[len(rows)-1].StreamPos, 10)
	}
	events, err := s.notifiedEvents(ctx, req, rows)
	if err != nil {
		return nil, err
	}
	read := map[id.RoomID]map[string]int64{}
	for _, row := range rows {
		ev := events[row.EventID]
		if ev == nil {
			continue // purged since
		}
		if read[row.RoomID] == nil {
			if read[row.RoomID], err = s.db.ReadPositions(ctx, req.UserID, row.RoomID); err != nil {
				return nil, err
			}
		}
		resp.Notifications = append(resp.Notifications, Notification{Actions: row.Actions, Event: ev,
			Read: push.IsRead(read[row.RoomID], row), RoomID: row.RoomID, TS: row.TS})
	}
	return resp, nil
}

// notifiedEvents renders the events of rows for the user, by ID.
func (s *Service) notifiedEvents(ctx context.Context, req NotificationsRequest, rows []storage.PushAction) (map[id.EventID]*rooms.ClientEvent, error) {
	ids := make([]id.EventID, len(rows))
	for i, row := range rows {
		ids[i] = row.EventID
	}
	evs, err := s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	rendered, err := s.render(ctx, Request{UserID: req.UserID, DeviceID: req.DeviceID}, evs, false)
	if err != nil {
		return nil, err
	}
	out := make(map[id.EventID]*rooms.ClientEvent, len(rendered))
	for _, ev := range rendered {
		out[ev.EventID] = ev
	}
	return out, nil
}
