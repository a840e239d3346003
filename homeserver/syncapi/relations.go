package syncapi

import (
	"context"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
)

// Bounds on a page of /relations and /threads.
const (
	defaultRelationsLimit = 50
	maxRelationsLimit     = 1000
)

// recursionDepth is how far /relations with recurse=true follows relations of relations: up to
// three steps past the direct relations, so events up to four relations away from the event.
// The spec asks for at least three levels (data/api/client-server/relations.yaml, recurse);
// counted with or without the direct level, three is met. A thread root's replies, their edits
// and reactions, and reactions to those edits are two steps deep at most. Each step of the walk
// is an index lookup per event found, and the depth bounds it even when relations form a cycle.
const recursionDepth = 3

// RelationsRequest is one GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
// (data/api/client-server/relations.yaml).
type RelationsRequest struct {
	UserID    id.UserID
	DeviceID  id.DeviceID
	RoomID    id.RoomID
	EventID   id.EventID
	RelType   string
	EventType string
	From      string
	To        string
	Forward   bool  // dir=f; backwards (newest first) by default
	Limit     int   // 0: the default
	Recurse   *bool // recurse; nil when the client did not give it
}

// RelationsResponse is the body of /relations and /threads.
type RelationsResponse struct {
	Chunk     []*rooms.ClientEvent `json:"chunk"`
	NextBatch string               `json:"next_batch,omitempty"`
	PrevBatch string               `json:"prev_batch,omitempty"`

	// RecursionDepth is how many steps past the direct relations the server followed: present
	// exactly when the client gave recurse (0 for recurse=false), never for /threads.
	RecursionDepth *int `json:"recursion_depth,omitempty"`
}

// Relations pages through the events that relate to an event the user may see, as the request
// narrows them, keeping those the user may see. Tokens are stream positions ("r…"); a /sync or
// /messages token is accepted as from or to too. With recurse=true, the events relating to
// those count too, up to recursionDepth steps further, each event between them and the given
// one matching the same rel_type and event type filter (content/client-server-api/_index.md,
// "Relationships API"); they come in the same stream order, paged with the same tokens.
func (s *Service) Relations(ctx context.Context, req RelationsRequest) (*RelationsResponse, error) {
	if _, err := s.rooms.VisibleEvent(ctx, req.RoomID, req.EventID, req.UserID); err != nil {
		return nil, err
	}
	membership, err := s.rooms.Membership(ctx, req.RoomID, req.UserID)
	if err != nil {
		return nil, err
	}
	q := storage.RelationsQuery{RoomID: req.RoomID, RelatesTo: req.EventID, RelType: req.RelType, Type: req.EventType, Backward: !req.Forward, Limit: pageLimit(req.Limit)}
	if req.Recurse != nil && *req.Recurse {
		q.Depth = recursionDepth
	}
	if req.From != "" {
		bound, err := relationsBound(req.From, req.Forward)
		if err != nil {
			return nil, err
		}
		q.Before, q.After = bound, bound
	}
	evs, err := s.db.Relations(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &RelationsResponse{}
	if req.Recurse != nil {
		resp.RecursionDepth = &q.Depth
	}
	if len(evs) == q.Limit {
		resp.NextBatch = relationsToken(evs[len(evs)-1].StreamPos)
	}
	if req.To != "" {
		to, err := relationsBound(req.To, !req.Forward)
		if err != nil {
			return nil, err
		}
		if cut := cutAtStream(evs, to, !req.Forward); len(cut) < len(evs) {
			evs, resp.NextBatch = cut, "" // reached to: nothing more this way
		}
	}
	if req.From != "" {
		resp.PrevBatch = req.From
	}
	if evs, err = s.rooms.VisibleEvents(ctx, req.UserID, membership, evs); err != nil {
		return nil, err
	}
	resp.Chunk, err = s.render(ctx, Request{UserID: req.UserID, DeviceID: req.DeviceID}, evs, false)
	return resp, err
}

// pageLimit applies the default and the maximum to a requested limit.
func pageLimit(limit int) int {
	if limit <= 0 {
		return defaultRelationsLimit
	}
	return min(limit, maxRelationsLimit)
}

func relationsToken(pos int64) string { return "r" + strconv.FormatInt(pos, 10) }

// relationsBound reads a /relations token ("r…", the position of the last event of a page),
// a /sync token or a /messages token as the stream position to page from, exclusive: events
// after it going forwards, before it going backwards.
func relationsBound(token string, forward bool) (int64, error) {
	invalid := mxerr.InvalidParam.WithMessage("invalid pagination token %q", token)
	var gapAfter int64 // the token as the gap just after this stream position
	switch t, topo := parseTopoToken(token); {
	case strings.HasPrefix(token, "r"):
		pos, err := strconv.ParseInt(token[1:], 10, 64)
		if err != nil || pos < 0 {
			return 0, invalid
		}
		return pos, nil
	case strings.HasPrefix(token, "s"):
		st, err := ParseStreamToken(token)
		if err != nil {
			return 0, invalid
		}
		gapAfter = st.Events
	case topo:
		gapAfter = t.StreamPos - 1 // the gap just before the event at t
	default:
		return 0, invalid
	}
	if forward {
		return gapAfter, nil
	}
	return gapAfter + 1, nil
}

// cutAtStream drops the events beyond the bound to, which relationsBound read for the other
// direction: going backwards, those at or below it; going forwards, those at or above it.
func cutAtStream(evs []*storage.Event, to int64, backward bool) []*storage.Event {
	for i, ev := range evs {
		if backward && ev.StreamPos <= to || !backward && ev.StreamPos >= to {
			return evs[:i]
		}
	}
	return evs
}

// ThreadsRequest is one GET /rooms/{roomId}/threads (data/api/client-server/threads_list.yaml).
type ThreadsRequest struct {
	UserID       id.UserID
	DeviceID     id.DeviceID
	RoomID       id.RoomID
	Participated bool // include=participated
	From         string
	Limit        int
}

// Threads lists the threads of a room the user may see, most recently active first: their
// roots, each once. from is the next_batch of the previous page ("h…").
func (s *Service) Threads(ctx context.Context, req ThreadsRequest) (*RelationsResponse, error) {
	membership, err := s.readerMembership(ctx, req.RoomID, req.UserID)
	if err != nil {
		return nil, err
	}
	var before int64
	if req.From != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(req.From, "h"), 10, 64)
		if err != nil || n < 1 || !strings.HasPrefix(req.From, "h") {
			return nil, mxerr.InvalidParam.WithMessage("invalid pagination token %q", req.From)
		}
		before = n
	}
	participant := id.UserID("")
	if req.Participated {
		participant = req.UserID
	}
	limit := pageLimit(req.Limit)
	threads, err := s.db.ThreadRoots(ctx, req.RoomID, participant, before, limit)
	if err != nil {
		return nil, err
	}
	resp := &RelationsResponse{}
	if len(threads) == limit {
		resp.NextBatch = "h" + strconv.FormatInt(threads[len(threads)-1].LatestAt, 10)
	}
	roots, err := s.threadRoots(ctx, threads)
	if err != nil {
		return nil, err
	}
	if roots, err = s.rooms.VisibleEvents(ctx, req.UserID, membership, roots); err != nil {
		return nil, err
	}
	resp.Chunk, err = s.render(ctx, Request{UserID: req.UserID, DeviceID: req.DeviceID}, roots, false)
	return resp, err
}

// threadRoots loads the root events of threads, in the threads' order; a root this server
// does not have is left out.
func (s *Service) threadRoots(ctx context.Context, threads []storage.ThreadRoot) ([]*storage.Event, error) {
	ids := make([]id.EventID, len(threads))
	for i, t := range threads {
		ids[i] = t.RootID
	}
	evs, err := s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[id.EventID]*storage.Event, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	out := make([]*storage.Event, 0, len(threads))
	for _, t := range threads {
		if ev := byID[t.RootID]; ev != nil && ev.RedactedBy == "" {
			out = append(out, ev)
		}
	}
	return out, nil
}
