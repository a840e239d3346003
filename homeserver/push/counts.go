package push

import (
	"context"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// Count is a number of unread notifications and how many of them highlight.
type Count struct {
	Notifications int64
	Highlights    int64
}

func (c *Count) add(n storage.NotificationCount) {
	c.Notifications += n.Notify
	c.Highlights += n.Highlights
}

// RoomCounts are a user's unread notifications in a room: those of the main timeline and of
// each thread, each after the user's read receipt for it or their unthreaded one, whichever
// is further (push.md, "Receiving notifications" and "Marking notifications as read").
type RoomCounts struct {
	Main    Count
	Threads map[id.EventID]Count // by thread root
}

// IsRead reports whether a notification comes at or before what the user has read in its
// room, given their read positions there (storage.ReadPositions): their unthreaded receipt or
// the one of its thread, whichever is further.
func IsRead(read map[string]int64, n storage.PushAction) bool {
	return max(read[""], read[n.ThreadID]) >= n.StreamPos
}

// Total is the room's count with threads and main timeline together.
func (rc RoomCounts) Total() Count {
	total := rc.Main
	for _, c := range rc.Threads {
		total.Notifications += c.Notifications
		total.Highlights += c.Highlights
	}
	return total
}

// UnreadCounts counts a user's unread notifications in a room.
func UnreadCounts(ctx context.Context, db *storage.DB, userID id.UserID, roomID id.RoomID) (RoomCounts, error) {
	read, err := db.ReadPositions(ctx, userID, roomID)
	if err != nil {
		return RoomCounts{}, err
	}
	counts, err := db.UnreadCounts(ctx, userID, roomID, read)
	if err != nil {
		return RoomCounts{}, err
	}
	rc := RoomCounts{Threads: map[id.EventID]Count{}}
	for _, n := range counts {
		if n.ThreadID == storage.MainThread {
			rc.Main.add(n)
			continue
		}
		c := rc.Threads[id.EventID(n.ThreadID)]
		c.add(n)
		rc.Threads[id.EventID(n.ThreadID)] = c
	}
	return rc, nil
}

// TotalUnread is a user's unread notifications across the rooms they are joined to: the
// badge a push gateway shows ("counts.unread" in push_notifier.yaml).
func TotalUnread(ctx context.Context, db *storage.DB, userID id.UserID) (int64, error) {
	roomIDs, err := db.RoomsWithNotifications(ctx, userID, 0)
	if err != nil {
		return 0, err
	}
	memberships, err := db.RoomsOfUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, roomID := range roomIDs {
		if memberships[roomID] != string(event.MembershipJoin) {
			continue
		}
		rc, err := UnreadCounts(ctx, db, userID, roomID)
		if err != nil {
			return 0, err
		}
		total += rc.Total().Notifications
	}
	return total, nil
}
