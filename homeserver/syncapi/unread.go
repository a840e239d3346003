package syncapi

import (
	"context"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/push"
)

// unreadNotifications fills in a joined room's unread counts (push.md, "Receiving
// notifications"). With unread_thread_notifications in the timeline filter, the main
// timeline's counts are unread_notifications and each thread's go to
// unread_thread_notifications; without it, unread_notifications counts them all.
func (s *Service) unreadNotifications(ctx context.Context, req Request, roomID id.RoomID, jr *JoinedRoom) error {
	rc, err := push.UnreadCounts(ctx, s.db, req.UserID, roomID)
	if err != nil {
		return err
	}
	if part := timelinePart(req.Filter.Room); part == nil || !part.UnreadThreadNotifications {
		jr.UnreadNotifications = unreadOf(rc.Total())
		return nil
	}
	jr.UnreadNotifications = unreadOf(rc.Main)
	jr.UnreadThreadNotifications = map[id.EventID]UnreadNotifications{}
	for root, c := range rc.Threads {
		jr.UnreadThreadNotifications[root] = unreadOf(c)
	}
	return nil
}

func unreadOf(c push.Count) UnreadNotifications {
	return UnreadNotifications{NotificationCount: c.Notifications, HighlightCount: c.Highlights}
}
