package rooms

import (
	"context"
	"encoding/json/v2"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
)

// RoomSummary is a room's summary for one user (data/api/client-server/room_summary.yaml).
type RoomSummary struct {
	PublicRoom
	RoomVersion id.RoomVersion `json:"room_version"`
	Encryption  string         `json:"encryption,omitempty"`
	Membership  string         `json:"membership,omitempty"`
}

// Summary returns a room's summary, if the user may see it as the space hierarchy decides
// (joined or invited, or a room anyone may join, knock on or read, or a restricted room they
// may join); otherwise, as for a room this server does not know, M_NOT_FOUND.
func (s *Service) Summary(ctx context.Context, userID id.UserID, roomID id.RoomID) (RoomSummary, error) {
	w := &hierarchyWalk{s: s, q: HierarchyQuery{UserID: userID}}
	var err error
	if w.memberships, err = s.db.RoomsOfUser(ctx, userID); err != nil {
		return RoomSummary{}, err
	}
	visible, err := w.visible(ctx, roomID)
	if err != nil {
		return RoomSummary{}, err
	}
	if !visible {
		return RoomSummary{}, mxerr.NotFound.WithMessage("room %s not found", roomID)
	}
	rooms, err := s.db.RoomsForSummary(ctx, []id.RoomID{roomID})
	if err != nil {
		return RoomSummary{}, err
	}
	if len(rooms) == 0 {
		return RoomSummary{}, mxerr.NotFound.WithMessage("room %s not found", roomID)
	}
	summaries, err := s.summarize(ctx, rooms)
	if err != nil {
		return RoomSummary{}, err
	}
	sum := RoomSummary{PublicRoom: summaries[0], RoomVersion: rooms[0].Version, Membership: w.memberships[roomID]}
	sum.Encryption, err = s.encryptionAlgorithm(ctx, roomID)
	return sum, err
}

// encryptionAlgorithm returns the algorithm of a room's m.room.encryption, "" when it has none.
func (s *Service) encryptionAlgorithm(ctx context.Context, roomID id.RoomID) (string, error) {
	evs, err := s.db.CurrentStateOfRooms(ctx, []id.RoomID{roomID}, []string{event.StateEncryption.Type})
	if err != nil || len(evs) == 0 {
		return "", err
	}
	p, err := ParsePDU(evs[0])
	if err != nil {
		return "", err
	}
	var c struct {
		Algorithm string `json:"algorithm"`
	}
	_ = json.Unmarshal(p.Content, &c)
	return c.Algorithm, nil
}
