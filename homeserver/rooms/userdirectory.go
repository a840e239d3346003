package rooms

import (
	"cmp"
	"context"
	"encoding/json/v2"
	"slices"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// DirectoryUser is one result of a user directory search.
type DirectoryUser struct {
	UserID      id.UserID `json:"user_id"`
	DisplayName string    `json:"display_name,omitempty"`
	AvatarURL   string    `json:"avatar_url,omitempty"`
}

// userSearchCandidates bounds the users a search considers before it checks who the searcher
// may find; more matches than this make the answer limited.
const userSearchCandidates = 500

// SearchUserDirectory finds the users whose ID or display name contains term, ignoring case,
// among those the searcher may find: the users who share a joined room with them and those
// joined to a room anyone may join (data/api/client-server/users.yaml). Users whose name or
// localpart starts with the term come first. limited says that more matched than returned.
func (s *Service) SearchUserDirectory(ctx context.Context, searcher id.UserID, term string, limit int) ([]DirectoryUser, bool, error) {
	matches, err := s.db.SearchUsers(ctx, term, userSearchCandidates)
	if err != nil {
		return nil, false, err
	}
	ids := []id.UserID{searcher}
	for _, m := range matches {
		ids = append(ids, m.UserID)
	}
	joined, err := s.db.JoinedRoomsOfUsers(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	public, err := s.publicJoinRooms(ctx, joined)
	if err != nil {
		return nil, false, err
	}
	shared := map[id.RoomID]bool{}
	for _, roomID := range joined[searcher] {
		shared[roomID] = true
	}
	var found []DirectoryUser
	for _, m := range matches {
		visible := slices.ContainsFunc(joined[m.UserID], func(r id.RoomID) bool { return shared[r] || public[r] })
		if m.UserID != searcher && visible {
			found = append(found, DirectoryUser{UserID: m.UserID, DisplayName: m.DisplayName, AvatarURL: m.AvatarURL})
		}
	}
	rankUsers(found, strings.ToLower(term))
	limited := len(matches) == userSearchCandidates || len(found) > limit
	return found[:min(limit, len(found))], limited, nil
}

// publicJoinRooms returns which of the rooms the users are joined to have the public join rule.
func (s *Service) publicJoinRooms(ctx context.Context, joined map[id.UserID][]id.RoomID) (map[id.RoomID]bool, error) {
	seen := map[id.RoomID]bool{}
	var roomIDs []id.RoomID
	for _, rs := range joined {
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				roomIDs = append(roomIDs, r)
			}
		}
	}
	evs, err := s.db.CurrentStateOfRooms(ctx, roomIDs, []string{event.StateJoinRules.Type})
	if err != nil {
		return nil, err
	}
	public := map[id.RoomID]bool{}
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return nil, err
		}
		var c struct {
			JoinRule string `json:"join_rule"`
		}
		if json.Unmarshal(p.Content, &c) == nil && c.JoinRule == string(event.JoinRulePublic) {
			public[ev.RoomID] = true
		}
	}
	return public, nil
}

// rankUsers puts first the users whose display name or localpart starts with term, then
// sorts by display name and user ID.
func rankUsers(users []DirectoryUser, term string) {
	starts := func(u DirectoryUser) int {
		if strings.HasPrefix(strings.ToLower(u.DisplayName), term) || strings.HasPrefix(strings.ToLower(u.UserID.Localpart()), term) {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(users, func(a, b DirectoryUser) int {
		return cmp.Or(cmp.Compare(starts(a), starts(b)), cmp.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)), cmp.Compare(a.UserID, b.UserID))
	})
}
