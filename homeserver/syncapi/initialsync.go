package syncapi

import (
	"context"
	"slices"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
)

// roomInitialSyncLimit is how many of the latest messages GET /rooms/{roomId}/initialSync gives.
const roomInitialSyncLimit = 20

// RoomInitialSync is the body of GET /rooms/{roomId}/initialSync
// (data/api/client-server/room_initial_sync.yaml).
type RoomInitialSync struct {
	RoomID      id.RoomID            `json:"room_id"`
	Membership  string               `json:"membership,omitempty"`
	Messages    RoomInitialMessages  `json:"messages"`
	State       []*rooms.ClientEvent `json:"state"`
	Visibility  string               `json:"visibility"`
	AccountData []any                `json:"account_data"`
}

// RoomInitialMessages is the messages chunk of a room's initial sync, oldest first.
type RoomInitialMessages struct {
	Start string               `json:"start,omitempty"`
	End   string               `json:"end"`
	Chunk []*rooms.ClientEvent `json:"chunk"`
}

// RoomInitialSync returns a snapshot of one room for a user who is or was in it, or may peek
// into it (a world-readable room): its latest messages, oldest first, with tokens to page
// back from the first and on from the last, the state the user may see (the current one, or
// that of when they left), its directory visibility and the user's room account data.
func (s *Service) RoomInitialSync(ctx context.Context, userID id.UserID, deviceID id.DeviceID, roomID id.RoomID) (*RoomInitialSync, error) {
	msgs, err := s.Messages(ctx, MessagesRequest{UserID: userID, DeviceID: deviceID, RoomID: roomID, Backward: true, Limit: roomInitialSyncLimit})
	if err != nil {
		return nil, err // the access check: members, former members and world-readable rooms
	}
	chunk := slices.Clone(msgs.Chunk)
	slices.Reverse(chunk)
	out := &RoomInitialSync{RoomID: roomID, Messages: RoomInitialMessages{Start: msgs.End, End: msgs.Start, Chunk: chunk}}
	if out.Membership, err = s.rooms.Membership(ctx, roomID, userID); err != nil {
		return nil, err
	}
	st, err := s.rooms.ViewerState(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	evs, err := s.rooms.StateEvents(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	if out.State, err = s.render(ctx, Request{UserID: userID, DeviceID: deviceID}, evs, false); err != nil {
		return nil, err
	}
	if out.Visibility, err = s.rooms.DirectoryVisibility(ctx, roomID); err != nil {
		return nil, err
	}
	upto, err := s.db.Counter(ctx, "account_data")
	if err != nil {
		return nil, err
	}
	ds, err := s.db.RoomAccountData(ctx, userID, roomID, upto)
	if err != nil {
		return nil, err
	}
	out.AccountData = accountDataEvents(nil, roomID, ds)
	return out, nil
}
