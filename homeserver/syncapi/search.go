package syncapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// Bounds on a page of /search and on the context of each result.
const (
	defaultSearchLimit = 10
	maxSearchLimit     = 100
	// DefaultSearchContext is before_limit and after_limit when absent (search.yaml), and
	// MaxSearchContext their cap.
	DefaultSearchContext = 5
	MaxSearchContext     = 100
	// searchRounds bounds the queries one page may take when most hits are events the user
	// may not see; the page is then shorter, and next_batch goes on from where it stopped.
	searchRounds = 5
)

// The orders and groupings of search.yaml.
const (
	SearchOrderRank   = "rank"
	SearchOrderRecent = "recent"
	SearchGroupRoom   = "room_id"
	SearchGroupSender = "sender"
)

// SearchRequest is the room_events category of one POST /search
// (data/api/client-server/search.yaml), checked by the handler.
type SearchRequest struct {
	UserID        id.UserID
	DeviceID      id.DeviceID
	Term          string
	Keys          []string // storage.SearchKey*; nil: all
	Filter        *mautrix.FilterPart
	OrderBy       string               // SearchOrderRank or SearchOrderRecent
	Context       *SearchContextParams // nil: no context
	IncludeState  bool
	GroupBySender bool
	GroupByRoom   bool
	NextBatch     string // the next_batch query parameter
}

// SearchContextParams is a request's event_context.
type SearchContextParams struct {
	BeforeLimit    int
	AfterLimit     int
	IncludeProfile bool
}

// SearchResponse is the body of /search.
type SearchResponse struct {
	SearchCategories SearchCategories `json:"search_categories"`
}

// SearchCategories holds the results of each category; room_events is the only one.
type SearchCategories struct {
	RoomEvents *RoomEventsResults `json:"room_events"`
}

// RoomEventsResults is the answer of the room_events category.
type RoomEventsResults struct {
	Count      int64                                   `json:"count"`
	Highlights []string                                `json:"highlights"`
	Results    []SearchResult                          `json:"results"`
	State      map[id.RoomID][]*rooms.ClientEvent      `json:"state,omitempty"`
	Groups     map[string]map[string]*SearchGroupEntry `json:"groups,omitempty"`
	NextBatch  string                                  `json:"next_batch,omitempty"`
}

// SearchResult is one event found, with its rank and, when asked for, its context.
type SearchResult struct {
	Rank    float64              `json:"rank"`
	Result  *rooms.ClientEvent   `json:"result"`
	Context *SearchResultContext `json:"context,omitempty"`
}

// SearchResultContext is the events around a result in its room's timeline.
type SearchResultContext struct {
	Start        string                      `json:"start"`
	End          string                      `json:"end"`
	ProfileInfo  map[id.UserID]SearchProfile `json:"profile_info,omitempty"`
	EventsBefore []*rooms.ClientEvent        `json:"events_before"`
	EventsAfter  []*rooms.ClientEvent        `json:"events_after"`
}

// SearchProfile is a sender's room profile at the time of a result's context.
type SearchProfile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// SearchGroupEntry is the results of one room or sender, in the order they first appear.
type SearchGroupEntry struct {
	NextBatch string       `json:"next_batch,omitempty"`
	Order     int          `json:"order"`
	Results   []id.EventID `json:"results"`
}

// Search finds the events of room_events that match the request's term in the rooms the
// user is or was in (content/client-server-api/modules/search.md: "including those that they
// have left"), among those they may see under history visibility: in a room they left, nothing
// after they left. Each word of the term must start a word of the event's text. count counts
// the matches in those rooms before history visibility is applied, so it is an upper bound
// (the spec allows an estimate); next_batch pages on in the same order, and a group's
// next_batch within that group.
func (s *Service) Search(ctx context.Context, req SearchRequest) (*SearchResponse, error) {
	token, err := parseSearchToken(req.NextBatch, req.OrderBy)
	if err != nil {
		return nil, err
	}
	memberships, err := s.searchableRooms(ctx, req.UserID, req.Filter, token)
	if err != nil {
		return nil, err
	}
	q := searchQuery(req, token, memberships)
	limit := defaultSearchLimit
	if req.Filter != nil && req.Filter.Limit > 0 {
		limit = min(req.Filter.Limit, maxSearchLimit)
	}
	hits, last, err := s.visibleHits(ctx, req, q, memberships, limit)
	if err != nil {
		return nil, err
	}
	out := &RoomEventsResults{Highlights: highlights(q.Terms, hits), Results: []SearchResult{}}
	if out.Count, err = s.db.CountSearchHits(ctx, q); err != nil {
		return nil, err
	}
	out.Count = max(out.Count, int64(len(hits)))
	if last != nil {
		out.NextBatch = token.next(req.OrderBy, *last, "", "")
	}
	if err := s.searchResults(ctx, req, out, hits, memberships); err != nil {
		return nil, err
	}
	out.Groups = searchGroups(req, hits, token, last)
	return &SearchResponse{SearchCategories: SearchCategories{RoomEvents: out}}, nil
}

// searchableRooms maps the rooms the user may search, as far as the filter and a group of
// the token allow, to the user's membership: the rooms they are in and those they left or
// were banned from, but not those they forgot.
func (s *Service) searchableRooms(ctx context.Context, userID id.UserID, filter *mautrix.FilterPart, token searchToken) (map[id.RoomID]string, error) {
	all, err := s.rooms.MembershipsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	forgotten, err := s.db.ForgottenRooms(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := map[id.RoomID]string{}
	for roomID, m := range all {
		switch {
		case m != string(event.MembershipJoin) && m != string(event.MembershipLeave) && m != string(event.MembershipBan),
			slices.Contains(forgotten, roomID),
			token.Group == SearchGroupRoom && string(roomID) != token.Key,
			filter != nil && (slices.Contains(filter.NotRooms, roomID) || filter.Rooms != nil && !slices.Contains(filter.Rooms, roomID)):
			continue
		}
		out[roomID] = m
	}
	return out, nil
}

// searchQuery is the storage query of a request: what SQL can narrow down of the filter
// (senders and exact types; visibility, type globs and contains_url are checked on the hits).
func searchQuery(req SearchRequest, token searchToken, memberships map[id.RoomID]string) storage.SearchQuery {
	q := storage.SearchQuery{Terms: storage.SearchTokens(req.Term), Keys: req.Keys, ByRank: req.OrderBy == SearchOrderRank, After: token.After}
	for roomID := range memberships {
		q.RoomIDs = append(q.RoomIDs, roomID)
	}
	slices.Sort(q.RoomIDs)
	if f := req.Filter; f != nil {
		q.Senders, q.NotSenders = f.Senders, f.NotSenders
		if f.Types != nil && !slices.ContainsFunc(f.Types, func(t event.Type) bool { return strings.Contains(t.Type, "*") }) {
			q.Types = []string{}
			for _, t := range f.Types {
				q.Types = append(q.Types, t.Type)
			}
		}
		for _, t := range f.NotTypes {
			if !strings.Contains(t.Type, "*") {
				q.NotTypes = append(q.NotTypes, t.Type)
			}
		}
	}
	if token.Group == SearchGroupSender {
		sender := id.UserID(token.Key)
		if q.Senders != nil && !slices.Contains(q.Senders, sender) {
			q.Senders = []id.UserID{}
		} else {
			q.Senders = []id.UserID{sender}
		}
	}
	return q
}

// visibleHits returns up to limit hits of q the user may see that pass the filter, and the
// position of the last hit it looked at when there may be more after it (nil when the search
// is exhausted). It asks for more hits while most turn out hidden, up to searchRounds times.
func (s *Service) visibleHits(ctx context.Context, req SearchRequest, q storage.SearchQuery, memberships map[id.RoomID]string, limit int) ([]storage.SearchHit, *storage.SearchPosition, error) {
	var kept []storage.SearchHit
	var last *storage.SearchPosition
	q.Limit = limit * 2
	for range searchRounds {
		hits, err := s.db.SearchEvents(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		visible, err := s.visibleSet(ctx, req, hits, memberships)
		if err != nil {
			return nil, nil, err
		}
		for i, h := range hits {
			pos := h.Position()
			last = &pos
			if visible[h.Event.ID] {
				kept = append(kept, h)
			}
			if len(kept) == limit {
				if i == len(hits)-1 && len(hits) < q.Limit {
					return kept, nil, nil // the last hit there is
				}
				return kept, last, nil
			}
		}
		if len(hits) < q.Limit {
			return kept, nil, nil
		}
		q.After = last
	}
	return kept, last, nil
}

// visibleSet returns the IDs of the hits the user may see that pass the request's filter.
func (s *Service) visibleSet(ctx context.Context, req SearchRequest, hits []storage.SearchHit, memberships map[id.RoomID]string) (map[id.EventID]bool, error) {
	byRoom := map[id.RoomID][]*storage.Event{}
	for _, h := range hits {
		if MatchEvent(req.Filter, filterEvent(h.Event, req.Filter)) {
			byRoom[h.Event.RoomID] = append(byRoom[h.Event.RoomID], h.Event)
		}
	}
	out := map[id.EventID]bool{}
	for roomID, evs := range byRoom {
		visible, err := s.rooms.VisibleEvents(ctx, req.UserID, memberships[roomID], evs)
		if err != nil {
			return nil, err
		}
		for _, ev := range visible {
			out[ev.ID] = true
		}
	}
	return out, nil
}

// highlights returns the words of the hits' text that a term matched (as their start), in
// the lower case that matching folds to, sorted.
func highlights(terms []string, hits []storage.SearchHit) []string {
	out := []string{}
	for _, h := range hits {
		_, text, _ := storage.SearchableText(h.Event)
		for _, word := range storage.SearchTokens(text) {
			if !slices.Contains(out, word) && slices.ContainsFunc(terms, func(t string) bool { return strings.HasPrefix(word, t) }) {
				out = append(out, word)
			}
		}
	}
	slices.Sort(out)
	return out
}

// searchResults renders the hits into out.Results, with their context and the state of their
// rooms when the request asks for them.
func (s *Service) searchResults(ctx context.Context, req SearchRequest, out *RoomEventsResults, hits []storage.SearchHit, memberships map[id.RoomID]string) error {
	fmtReq := Request{UserID: req.UserID, DeviceID: req.DeviceID}
	evs := make([]*storage.Event, len(hits))
	for i, h := range hits {
		evs[i] = h.Event
	}
	rendered, err := s.render(ctx, fmtReq, evs, false)
	if err != nil {
		return err
	}
	for i, h := range hits {
		r := SearchResult{Rank: h.Rank, Result: rendered[i]}
		if req.Context != nil {
			if r.Context, err = s.searchContext(ctx, req, h.Event, memberships[h.Event.RoomID]); err != nil {
				return err
			}
		}
		out.Results = append(out.Results, r)
	}
	if req.IncludeState {
		out.State = map[id.RoomID][]*rooms.ClientEvent{}
		for _, ev := range evs {
			if _, done := out.State[ev.RoomID]; done {
				continue
			}
			if out.State[ev.RoomID], err = s.searchRoomState(ctx, fmtReq, ev.RoomID); err != nil {
				return err
			}
		}
	}
	return nil
}

// searchRoomState is the state of a room the user may read: the current state, or the state
// when they left.
func (s *Service) searchRoomState(ctx context.Context, fmtReq Request, roomID id.RoomID) ([]*rooms.ClientEvent, error) {
	st, err := s.rooms.ViewerState(ctx, roomID, fmtReq.UserID)
	if err != nil {
		return nil, err
	}
	evs, err := s.rooms.StateEvents(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	return s.render(ctx, fmtReq, evs, false)
}

// searchContext returns the events the user may see just before and after a result, with
// /messages tokens from either end and, when asked for, the senders' profiles in the room's
// state after the last of them.
func (s *Service) searchContext(ctx context.Context, req SearchRequest, ev *storage.Event, membership string) (*SearchResultContext, error) {
	at := storage.TopoPos{Depth: ev.Depth, StreamPos: ev.StreamPos}
	before, err := s.db.RoomEventsBefore(ctx, ev.RoomID, at, req.Context.BeforeLimit)
	if err != nil {
		return nil, err
	}
	after, err := s.db.RoomEventsFrom(ctx, ev.RoomID, storage.TopoPos{Depth: at.Depth, StreamPos: at.StreamPos + 1}, req.Context.AfterLimit)
	if err != nil {
		return nil, err
	}
	out := &SearchResultContext{Start: contextStart(at, before).String(), End: contextEnd(at, after).String()}
	if before, err = s.rooms.VisibleEvents(ctx, req.UserID, membership, before); err != nil {
		return nil, err
	}
	if after, err = s.rooms.VisibleEvents(ctx, req.UserID, membership, after); err != nil {
		return nil, err
	}
	fmtReq := Request{UserID: req.UserID, DeviceID: req.DeviceID}
	if out.EventsBefore, err = s.render(ctx, fmtReq, before, false); err != nil {
		return nil, err
	}
	if out.EventsAfter, err = s.render(ctx, fmtReq, after, false); err != nil {
		return nil, err
	}
	if req.Context.IncludeProfile {
		last := ev
		if len(after) > 0 {
			last = after[len(after)-1]
		}
		if out.ProfileInfo, err = s.senderProfiles(ctx, last, slices.Concat(before, []*storage.Event{ev}, after)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// senderProfiles returns the display names and avatars of the senders of evs in the room's
// state after last.
func (s *Service) senderProfiles(ctx context.Context, last *storage.Event, evs []*storage.Event) (map[id.UserID]SearchProfile, error) {
	senders := map[string]bool{}
	for _, e := range evs {
		senders[string(e.Sender)] = true
	}
	st, err := s.rooms.StateAfter(ctx, last)
	if err != nil {
		return nil, err
	}
	members, err := s.rooms.StateEvents(ctx, st, func(k storage.StateKey) bool {
		return k.Type == event.StateMember.Type && senders[k.StateKey]
	})
	if err != nil {
		return nil, err
	}
	out := map[id.UserID]SearchProfile{}
	for _, m := range members {
		content := gjson.GetBytes(m.PDU, "content")
		out[id.UserID(*m.StateKey)] = SearchProfile{DisplayName: content.Get("displayname").String(), AvatarURL: content.Get("avatar_url").String()}
	}
	return out, nil
}

// searchGroups groups the hits by room and by sender as the request asks, each group ordered
// by where its first hit appears, with a next_batch within the group when the search goes on.
func searchGroups(req SearchRequest, hits []storage.SearchHit, token searchToken, last *storage.SearchPosition) map[string]map[string]*SearchGroupEntry {
	if !req.GroupByRoom && !req.GroupBySender {
		return nil
	}
	out := map[string]map[string]*SearchGroupEntry{}
	group := func(name, key string, evID id.EventID) {
		if out[name] == nil {
			out[name] = map[string]*SearchGroupEntry{}
		}
		g := out[name][key]
		if g == nil {
			g = &SearchGroupEntry{Order: len(out[name]) + 1, Results: []id.EventID{}}
			if last != nil {
				g.NextBatch = token.next(req.OrderBy, *last, name, key)
			}
			out[name][key] = g
		}
		g.Results = append(g.Results, evID)
	}
	for _, h := range hits {
		if req.GroupByRoom {
			group(SearchGroupRoom, string(h.Event.RoomID), h.Event.ID)
		}
		if req.GroupBySender {
			group(SearchGroupSender, string(h.Event.Sender), h.Event.ID)
		}
	}
	return out
}

// searchToken is a /search next_batch: the order it pages in, the last hit looked at, and
// the room or sender group it is limited to, if any. On the wire it is unpadded base64url
// JSON, opaque to clients.
type searchToken struct {
	Order string                  `json:"o"`
	After *storage.SearchPosition `json:"a"`
	Group string                  `json:"g,omitempty"`
	Key   string                  `json:"k,omitempty"`
}

// parseSearchToken reads a next_batch ("" is the first page), which must have come from a
// search in the same order.
func parseSearchToken(s, order string) (searchToken, error) {
	var t searchToken
	if s == "" {
		return t, nil
	}
	invalid := mxerr.InvalidParam.WithMessage("invalid next_batch %q", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, &t) != nil || t.After == nil || t.After.StreamPos <= 0 {
		return searchToken{}, invalid
	}
	switch {
	case t.Order != order:
		return searchToken{}, mxerr.InvalidParam.WithMessage("next_batch is for a search ordered by %s, not %s", t.Order, order)
	case t.Group == "" && t.Key == "",
		t.Group == SearchGroupRoom && strings.HasPrefix(t.Key, "!"),
		t.Group == SearchGroupSender && strings.HasPrefix(t.Key, "@"):
		return t, nil
	}
	return searchToken{}, invalid
}

// next returns the next_batch going on after last, within the group of t unless group names
// another (group "" keeps t's).
func (t searchToken) next(order string, last storage.SearchPosition, group, key string) string {
	n := searchToken{Order: order, After: &last, Group: t.Group, Key: t.Key}
	if order == SearchOrderRecent {
		n.After.Rank = 0 // only the stream position orders recent results
	}
	if group != "" {
		n.Group, n.Key = group, key
	}
	raw, _ := json.Marshal(n)
	return base64.RawURLEncoding.EncodeToString(raw)
}
