package syncapi

import (
	"context"
	"maps"
	"slices"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Device lists (end_to_end_encryption.md, "Tracking the device list for a user" and
// "Extensions to /sync"): an incremental sync names in device_lists.changed the users whose
// devices or keys changed since the token (the "device_lists" stream, written by
// homeserver/keys and homeserver/accounts) and who share a room with the syncing user, and
// the users who newly share a room with them; in device_lists.left the users who no longer
// share any room with them. "Share a room" is both users joined, in any room, encrypted or
// not: the spec's note allows naming a user in changed for a new shared room even when
// another was shared already, and a client tracks the users it cares about.
//
// The syncing device's own key counts (device_one_time_keys_count,
// device_unused_fallback_key_types) are in every response to a device.

// defaultOneTimeKeyAlgorithm is always counted, with 0 when the device has none: clients read
// a missing count as unknown rather than zero (keys.DefaultOneTimeKeyAlgorithm).
const defaultOneTimeKeyAlgorithm = "signed_curve25519"

// DeviceListChanged wakes the long polls of the user and of everyone in a joined room with
// them: their device list or keys changed. It implements keys.DeviceListNotifier and
// accounts.DeviceListNotifier.
func (s *Service) DeviceListChanged(ctx context.Context, userID id.UserID) {
	s.notifier.WakeUser(userID)
	// The change has committed; the rooms are read even if the request that made it is gone.
	rooms, err := s.db.RoomsOfUser(context.WithoutCancel(ctx), userID)
	if err != nil {
		s.log.WarnContext(ctx, "cannot wake the rooms of a device-list change", "user_id", userID, "error", err)
		return
	}
	for roomID, membership := range rooms {
		if membership == string(event.MembershipJoin) {
			s.notifier.WakeRoom(roomID)
		}
	}
}

// KeyChanges answers GET /keys/changes: the users whose device lists changed between two
// sync tokens and who share a room with the user now, and those who stopped sharing any.
// Positions past the current ones are read as the current ones.
func (s *Service) KeyChanges(ctx context.Context, userID id.UserID, from, to StreamToken) (*DeviceLists, error) {
	upto, err := s.positions(ctx)
	if err != nil {
		return nil, err
	}
	to.Events, to.DeviceLists = min(to.Events, upto.Events), min(to.DeviceLists, upto.DeviceLists)
	from.Events, from.DeviceLists = min(from.Events, to.Events), min(from.DeviceLists, to.DeviceLists)
	lists, err := s.deviceListsSince(ctx, userID, from, to)
	if err != nil || lists == nil {
		return &DeviceLists{}, err
	}
	return lists, nil
}

// deviceListsSince is the device_lists section of an incremental sync from since to upto; nil
// when nothing changed.
func (s *Service) deviceListsSince(ctx context.Context, userID id.UserID, since, upto StreamToken) (*DeviceLists, error) {
	changed, left := map[id.UserID]bool{}, map[id.UserID]bool{}
	if since.DeviceLists < upto.DeviceLists {
		users, err := s.db.DeviceListChangesOfSharers(ctx, userID, since.DeviceLists, upto.DeviceLists)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			changed[u] = true
		}
	}
	if since.Events < upto.Events {
		if err := s.membershipDeviceLists(ctx, userID, since.Events, upto.Events, changed, left); err != nil {
			return nil, err
		}
	}
	if len(changed)+len(left) == 0 {
		return nil, nil
	}
	return &DeviceLists{Changed: slices.Sorted(maps.Keys(changed)), Left: slices.Sorted(maps.Keys(left))}, nil
}

// membershipDeviceLists adds to changed the users who came to share a room with userID in
// the events (after, upto], and to left those who left a room they shared with userID, or
// were in a room userID left, and share none with them now.
func (s *Service) membershipDeviceLists(ctx context.Context, userID id.UserID, after, upto int64, changed, left map[id.UserID]bool) error {
	changes, err := s.db.MembershipChangesInRoomsOf(ctx, userID, after, upto)
	if err != nil || len(changes) == 0 {
		return err
	}
	// For each room, who changed membership and whether they left at some point.
	byRoom := map[id.RoomID]map[id.UserID]bool{}
	for _, c := range changes {
		if byRoom[c.RoomID] == nil {
			byRoom[c.RoomID] = map[id.UserID]bool{}
		}
		byRoom[c.RoomID][c.UserID] = byRoom[c.RoomID][c.UserID] || gone(c.Membership)
	}
	sharing, err := s.db.UsersSharingRoomWith(ctx, userID)
	if err != nil {
		return err
	}
	for roomID, movers := range byRoom {
		members, err := s.db.RoomMembers(ctx, roomID, string(event.MembershipJoin))
		if err != nil {
			return err
		}
		joined := map[id.UserID]bool{}
		for _, m := range members {
			joined[m] = true
		}
		_, selfMoved := movers[userID]
		selfLeft := selfMoved && !joined[userID]
		candidates := maps.Clone(movers)
		if selfMoved {
			// The user's own membership changed: everyone in the room is new to share it
			// with, or no longer shares it.
			for _, m := range members {
				candidates[m] = candidates[m] || selfLeft
			}
		}
		for u, leftRoom := range candidates {
			switch {
			case u == userID:
			case sharing[u] && joined[userID] && joined[u]:
				changed[u] = true
			case !sharing[u] && (leftRoom || selfLeft):
				left[u] = true
			}
		}
	}
	return nil
}

// gone reports whether a membership takes its user out of the room.
func gone(membership string) bool {
	return membership == string(event.MembershipLeave) || membership == string(event.MembershipBan)
}

// deviceKeyCounts fills the syncing device's one-time key counts and unused fallback key
// types into resp.
func (s *Service) deviceKeyCounts(ctx context.Context, req Request, resp *Response) error {
	if req.DeviceID == "" {
		return nil
	}
	counts, err := s.db.OneTimeKeyCounts(ctx, req.UserID, req.DeviceID)
	if err != nil {
		return err
	}
	if _, ok := counts[defaultOneTimeKeyAlgorithm]; !ok {
		counts[defaultOneTimeKeyAlgorithm] = 0
	}
	types, err := s.db.UnusedFallbackKeyTypes(ctx, req.UserID, req.DeviceID)
	if err != nil {
		return err
	}
	if types == nil {
		types = []string{}
	}
	resp.DeviceOneTimeKeysCount, resp.DeviceUnusedFallbackKeyTypes = counts, types
	return nil
}
