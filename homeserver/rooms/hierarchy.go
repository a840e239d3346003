package rooms

import (
	"cmp"
	"context"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"slices"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Bounds on the space hierarchy (data/api/client-server/space_hierarchy.yaml).
const (
	DefaultHierarchyLimit = 50
	MaxHierarchyLimit     = 200
	maxHierarchyDepth     = 20   // the deepest a walk goes, whatever max_depth asks
	maxHierarchyRooms     = 2000 // the most rooms one walk visits
)

// HierarchyQuery is one GET /rooms/{roomId}/hierarchy.
type HierarchyQuery struct {
	UserID        id.UserID
	RoomID        id.RoomID
	SuggestedOnly bool
	MaxDepth      int // -1: as deep as maxHierarchyDepth
	Limit         int
	From          string // "" for the first page
}

// Hierarchy is one page of a space's tree.
type Hierarchy struct {
	Rooms     []HierarchyRoom `json:"rooms"`
	NextBatch string          `json:"next_batch,omitempty"`
}

// HierarchyRoom is a room of the tree: its summary and its m.space.child events.
type HierarchyRoom struct {
	PublicRoom
	RoomVersion   id.RoomVersion `json:"room_version"`
	ChildrenState []ChildState   `json:"children_state"`
}

// ChildState is an m.space.child event as stripped state with its timestamp.
type ChildState struct {
	Type           string         `json:"type"`
	StateKey       string         `json:"state_key"`
	Sender         id.UserID      `json:"sender"`
	Content        jsontext.Value `json:"content"`
	OriginServerTS int64          `json:"origin_server_ts"`
}

// spaceChild is a valid m.space.child event: one whose via lists a server.
type spaceChild struct {
	state     ChildState
	order     string // "" when absent or invalid
	suggested bool
}

// Hierarchy walks a space's tree depth first, as this server knows it (no federation), and
// returns a page of the rooms the user may see: rooms they are joined or invited to, rooms
// anyone may join, knock on or read, and restricted rooms they may join. A room they may not
// see is left out with its subtree; a root they may not see is M_FORBIDDEN. Each room's
// children are taken in the spec's order (spaces.md, "Ordering of children within a space").
// The from token is a position in the walk, which is done again for each page.
func (s *Service) Hierarchy(ctx context.Context, q HierarchyQuery) (*Hierarchy, error) {
	start, err := hierarchyStart(q)
	if err != nil {
		return nil, err
	}
	w := &hierarchyWalk{s: s, q: q, visited: map[id.RoomID]bool{}}
	if w.memberships, err = s.db.RoomsOfUser(ctx, q.UserID); err != nil {
		return nil, err
	}
	visible, err := w.visible(ctx, q.RoomID)
	if err != nil {
		return nil, err
	}
	if !visible {
		return nil, mxerr.Forbidden.WithMessage("you may not see the space %s", q.RoomID)
	}
	maxDepth := maxHierarchyDepth
	if q.MaxDepth >= 0 {
		maxDepth = min(q.MaxDepth, maxHierarchyDepth)
	}
	if err := w.walk(ctx, q.RoomID, 0, maxDepth); err != nil {
		return nil, err
	}
	if start > len(w.rooms) {
		return nil, mxerr.InvalidParam.WithMessage("from is past the end of the hierarchy")
	}
	end := min(start+q.Limit, len(w.rooms))
	page, err := s.summarizeHierarchy(ctx, w.rooms[start:end])
	if err != nil {
		return nil, err
	}
	h := &Hierarchy{Rooms: page}
	if end < len(w.rooms) {
		h.NextBatch = hierarchyToken(end, q)
	}
	return h, nil
}

// hierarchyToken is the from token of the page that starts at position pos of the walk: the
// position, max_depth and suggested_only, which must not change between pages.
func hierarchyToken(pos int, q HierarchyQuery) string {
	return "h" + strconv.Itoa(pos) + "_" + strconv.Itoa(q.MaxDepth) + "_" + strconv.FormatBool(q.SuggestedOnly)
}

// hierarchyStart reads the from token of q, which must have been made for the same
// max_depth and suggested_only.
func hierarchyStart(q HierarchyQuery) (int, error) {
	if q.From == "" {
		return 0, nil
	}
	pos, rest, _ := strings.Cut(strings.TrimPrefix(q.From, "h"), "_")
	n, err := strconv.Atoi(pos)
	if err != nil || n < 0 || !strings.HasPrefix(q.From, "h") {
		return 0, mxerr.InvalidParam.WithMessage("unknown from token %q", q.From)
	}
	if q.From != hierarchyToken(n, q) {
		return 0, mxerr.InvalidParam.WithMessage("max_depth and suggested_only must not change between pages (from %q, now %q)", rest, hierarchyToken(n, q)[len(pos)+2:])
	}
	return n, nil
}

// hierarchyWalk is one walk of a space's tree.
type hierarchyWalk struct {
	s           *Service
	q           HierarchyQuery
	memberships map[id.RoomID]string
	visited     map[id.RoomID]bool
	rooms       []walkedRoom
}

// walkedRoom is a room the walk found, with its children.
type walkedRoom struct {
	roomID   id.RoomID
	children []spaceChild
}

// walk adds roomID, at depth, and then its subtree down to maxDepth.
func (w *hierarchyWalk) walk(ctx context.Context, roomID id.RoomID, depth, maxDepth int) error {
	w.visited[roomID] = true
	children, err := w.s.spaceChildren(ctx, roomID)
	if err != nil {
		return err
	}
	w.rooms = append(w.rooms, walkedRoom{roomID: roomID, children: children})
	if depth >= maxDepth {
		return nil
	}
	for _, c := range children {
		childID := id.RoomID(c.state.StateKey)
		if len(w.rooms) >= maxHierarchyRooms || w.visited[childID] || w.q.SuggestedOnly && !c.suggested {
			continue
		}
		visible, err := w.visible(ctx, childID)
		if err != nil {
			return err
		}
		if visible {
			if err := w.walk(ctx, childID, depth+1, maxDepth); err != nil {
				return err
			}
		}
	}
	return nil
}

// visible reports whether the user may see a room of this server in the hierarchy.
func (w *hierarchyWalk) visible(ctx context.Context, roomID id.RoomID) (bool, error) {
	switch w.memberships[roomID] {
	case string(event.MembershipJoin), string(event.MembershipInvite):
		return true, nil
	}
	if _, err := w.s.db.RoomByID(ctx, roomID); errors.Is(err, storage.ErrNotFound) {
		return false, nil // not on this server, and there is no federation to ask
	} else if err != nil {
		return false, err
	}
	evs, err := w.s.db.CurrentStateOfRooms(ctx, []id.RoomID{roomID}, []string{event.StateJoinRules.Type, event.StateHistoryVisibility.Type})
	if err != nil {
		return false, err
	}
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return false, err
		}
		var c struct {
			JoinRule          string `json:"join_rule"`
			HistoryVisibility string `json:"history_visibility"`
			Allow             []struct {
				Type   string    `json:"type"`
				RoomID id.RoomID `json:"room_id"`
			} `json:"allow"`
		}
		if json.Unmarshal(p.Content, &c) != nil {
			continue
		}
		switch {
		case c.HistoryVisibility == string(event.HistoryVisibilityWorldReadable),
			c.JoinRule == string(event.JoinRulePublic), c.JoinRule == string(event.JoinRuleKnock), c.JoinRule == string(event.JoinRuleKnockRestricted):
			return true, nil
		case c.JoinRule == string(event.JoinRuleRestricted):
			for _, a := range c.Allow {
				if a.Type == "m.room_membership" && w.memberships[a.RoomID] == string(event.MembershipJoin) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// spaceChildren returns a room's valid m.space.child events in the spec's order: those with a
// valid order by it, then by timestamp, then by room ID.
func (s *Service) spaceChildren(ctx context.Context, roomID id.RoomID) ([]spaceChild, error) {
	evs, err := s.db.CurrentStateOfType(ctx, roomID, event.StateSpaceChild.Type)
	if err != nil {
		return nil, err
	}
	var out []spaceChild
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return nil, err
		}
		var c struct {
			Via       []string `json:"via"`
			Order     string   `json:"order"`
			Suggested bool     `json:"suggested"`
		}
		if ev.StateKey == nil || json.Unmarshal(p.Content, &c) != nil || len(c.Via) == 0 || !strings.HasPrefix(*ev.StateKey, "!") {
			continue // no via: a removed child
		}
		if !validChildOrder(c.Order) {
			c.Order = ""
		}
		out = append(out, spaceChild{
			state:     ChildState{Type: ev.Type, StateKey: *ev.StateKey, Sender: ev.Sender, Content: p.Content, OriginServerTS: ev.OriginServerTS},
			order:     c.Order,
			suggested: c.Suggested,
		})
	}
	slices.SortFunc(out, func(a, b spaceChild) int {
		if aOrdered, bOrdered := a.order != "", b.order != ""; aOrdered != bOrdered {
			if aOrdered {
				return -1 // children with an order come first
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(a.state.OriginServerTS, b.state.OriginServerTS), cmp.Compare(a.state.StateKey, b.state.StateKey))
	})
	return out, nil
}

// validChildOrder reports whether an m.space.child order is valid: at most 50 characters, all
// printable ASCII (0x20 to 0x7E).
func validChildOrder(order string) bool {
	if order == "" || len(order) > 50 {
		return false
	}
	for i := range len(order) {
		if order[i] < 0x20 || order[i] > 0x7E {
			return false
		}
	}
	return true
}

// summarizeHierarchy builds the page's entries: each room's summary and children.
func (s *Service) summarizeHierarchy(ctx context.Context, walked []walkedRoom) ([]HierarchyRoom, error) {
	ids := make([]id.RoomID, len(walked))
	for i, w := range walked {
		ids[i] = w.roomID
	}
	rooms, err := s.db.RoomsForSummary(ctx, ids)
	if err != nil {
		return nil, err
	}
	summaries, err := s.summarize(ctx, rooms)
	if err != nil {
		return nil, err
	}
	byID := map[id.RoomID]int{}
	for i, r := range rooms {
		byID[r.RoomID] = i
	}
	out := make([]HierarchyRoom, 0, len(walked))
	for _, w := range walked {
		i, ok := byID[w.roomID]
		if !ok {
			continue
		}
		entry := HierarchyRoom{PublicRoom: summaries[i], RoomVersion: rooms[i].Version, ChildrenState: []ChildState{}}
		for _, c := range w.children {
			entry.ChildrenState = append(entry.ChildrenState, c.state)
		}
		out = append(out, entry)
	}
	return out, nil
}
