package syncapi

import (
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
)

// Response is the body of GET /sync (data/api/client-server/sync.yaml).
type Response struct {
	NextBatch   string       `json:"next_batch"`
	Rooms       *RoomsBlock  `json:"rooms,omitzero"`
	AccountData EventsBlock  `json:"account_data"`
	Presence    EventsBlock  `json:"presence"`
	ToDevice    EventsBlock  `json:"to_device"`
	DeviceLists *DeviceLists `json:"device_lists,omitzero"`
	// The syncing device's keys (devicelists.go); absent for a request without a device.
	DeviceOneTimeKeysCount       map[string]int `json:"device_one_time_keys_count,omitzero"`
	DeviceUnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types,omitzero"`
}

// EventsBlock is an object with an events list, the shape of most sync sections.
type EventsBlock struct {
	Events []any `json:"events"`
}

// DeviceLists names the users whose device lists a client should fetch again, or stop
// tracking (devicelists.go).
type DeviceLists struct {
	Changed []id.UserID `json:"changed,omitempty"`
	Left    []id.UserID `json:"left,omitempty"`
}

// RoomsBlock groups rooms by the user's membership.
type RoomsBlock struct {
	Join   map[id.RoomID]*JoinedRoom  `json:"join,omitempty"`
	Invite map[id.RoomID]*InvitedRoom `json:"invite,omitempty"`
	Knock  map[id.RoomID]*KnockedRoom `json:"knock,omitempty"`
	Leave  map[id.RoomID]*LeftRoom    `json:"leave,omitempty"`
}

// empty reports whether the response carries nothing new.
func (r *Response) empty() bool {
	return r.Rooms.empty() && len(r.AccountData.Events) == 0 && len(r.Presence.Events) == 0 && len(r.ToDevice.Events) == 0 &&
		r.DeviceLists == nil
}

func (b *RoomsBlock) empty() bool {
	return b == nil || len(b.Join)+len(b.Invite)+len(b.Knock)+len(b.Leave) == 0
}

// JoinedRoom is one entry of rooms.join.
type JoinedRoom struct {
	Summary             *Summary            `json:"summary,omitzero"`
	State               StateBlock          `json:"state"`
	Timeline            Timeline            `json:"timeline"`
	Ephemeral           EventsBlock         `json:"ephemeral"`
	AccountData         EventsBlock         `json:"account_data"`
	UnreadNotifications UnreadNotifications `json:"unread_notifications"`
	// By thread root; only when the filter asks for unread_thread_notifications.
	UnreadThreadNotifications map[id.EventID]UnreadNotifications `json:"unread_thread_notifications,omitempty"`
}

// UnreadNotifications are a user's unread notification counts (see unread.go).
type UnreadNotifications struct {
	HighlightCount    int64 `json:"highlight_count"`
	NotificationCount int64 `json:"notification_count"`
}

// InvitedRoom is one entry of rooms.invite.
type InvitedRoom struct {
	InviteState StrippedStateBlock `json:"invite_state"`
}

// KnockedRoom is one entry of rooms.knock: a room the user knocked on, as far as they may see it.
type KnockedRoom struct {
	KnockState StrippedStateBlock `json:"knock_state"`
}

// LeftRoom is one entry of rooms.leave.
type LeftRoom struct {
	State       StateBlock  `json:"state"`
	Timeline    Timeline    `json:"timeline"`
	AccountData EventsBlock `json:"account_data"`
}

// StateBlock holds state events.
type StateBlock struct {
	Events []*rooms.ClientEvent `json:"events"`
}

// StrippedStateBlock holds stripped state events.
type StrippedStateBlock struct {
	Events []StrippedEvent `json:"events"`
}

// StrippedEvent is a state event reduced to what an invitee may see.
type StrippedEvent struct {
	Content  any       `json:"content"`
	Sender   id.UserID `json:"sender"`
	StateKey string    `json:"state_key"`
	Type     string    `json:"type"`
}

// Timeline is a room's new events.
type Timeline struct {
	Events    []*rooms.ClientEvent `json:"events"`
	Limited   bool                 `json:"limited"`
	PrevBatch string               `json:"prev_batch,omitzero"`
}

// Summary is a room's summary for naming it (heroes and member counts).
type Summary struct {
	Heroes             []id.UserID `json:"m.heroes,omitempty"`
	JoinedMemberCount  int         `json:"m.joined_member_count"`
	InvitedMemberCount int         `json:"m.invited_member_count"`
}
