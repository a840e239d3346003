package rooms

import (
	"context"
	"encoding/base64"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"slices"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// The published room directory (content/client-server-api/_index.md, "Published room
// directory"; data/api/client-server/list_public_rooms.yaml) and the directories appservices
// keep for their third-party networks (data/api/client-server/appservice_room_directory.yaml).

// Directory visibilities of a room.
const (
	VisibilityPublic  = "public"
	VisibilityPrivate = "private"
)

// Page sizes of /publicRooms: the spec sets no default, and a client that names none still
// gets next_batch to page on.
const (
	DefaultDirectoryLimit = 100
	MaxDirectoryLimit     = 500
)

// NetworkInstanceID names an appservice's network the way GET /thirdparty/protocols shows it
// as a protocol instance's instance_id (appservice/thirdparty.go), which is what clients pass
// to /publicRooms as third_party_instance_id.
func NetworkInstanceID(appserviceID, networkID string) string {
	return appserviceID + "|" + networkID
}

func parseVisibility(v string) (public bool, err error) {
	switch v {
	case VisibilityPublic:
		return true, nil
	case VisibilityPrivate:
		return false, nil
	}
	return false, mxerr.InvalidParam.WithMessage("visibility must be %q or %q", VisibilityPublic, VisibilityPrivate)
}

// roomForDirectory returns the room, or M_NOT_FOUND as the directory endpoints answer.
func (s *Service) roomForDirectory(ctx context.Context, roomID id.RoomID) (storage.Room, error) {
	room, err := s.db.RoomByID(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Room{}, mxerr.NotFound.WithMessage("room %s not found", roomID)
	}
	return room, err
}

// DirectoryVisibility returns the room's visibility in the server's directory.
func (s *Service) DirectoryVisibility(ctx context.Context, roomID id.RoomID) (string, error) {
	room, err := s.roomForDirectory(ctx, roomID)
	if err != nil {
		return "", err
	}
	if room.IsPublic {
		return VisibilityPublic, nil
	}
	return VisibilityPrivate, nil
}

// SetDirectoryVisibility lists or unlists a room in the server's directory. The spec leaves
// who may to the server; as in Synapse (Auth.check_can_change_room_list), a server admin may,
// and so may a joined member whose power level allows sending m.room.canonical_alias: the
// people who decide how the room is addressed also decide whether it is advertised.
func (s *Service) SetDirectoryVisibility(ctx context.Context, roomID id.RoomID, userID id.UserID, isAdmin bool, visibility string) error {
	public, err := parseVisibility(visibility)
	if err != nil {
		return err
	}
	room, err := s.roomForDirectory(ctx, roomID)
	if err != nil {
		return err
	}
	if !isAdmin {
		if m, err := s.Membership(ctx, roomID, userID); err != nil {
			return err
		} else if m != string(event.MembershipJoin) {
			return mxerr.Forbidden.WithMessage("you must be in %s to change its visibility in the directory", roomID)
		}
		pl, err := s.CurrentPowerLevels(ctx, roomID)
		if err != nil {
			return err
		}
		if pl.GetUserLevel(userID) < pl.GetEventLevel(event.StateCanonicalAlias) {
			return mxerr.Forbidden.WithMessage("your power level in %s is too low to change its visibility in the directory", roomID)
		}
	}
	if room.IsPublic == public {
		return nil
	}
	return s.db.SetRoomPublic(ctx, roomID, public)
}

// NetworkVisibilityRequest is an appservice listing or unlisting a room under one of its
// third-party networks.
type NetworkVisibilityRequest struct {
	AppserviceID string    // the requesting appservice; "" for an ordinary client, who may not
	UserID       id.UserID // the user the appservice acts as
	NetworkID    string
	RoomID       id.RoomID
	Visibility   string
}

// SetNetworkVisibility lists or unlists a room in an appservice's directory for one network.
// Listing needs the user the appservice acts as (its sender, or a user it masquerades as) to
// be joined to the room, so that an appservice cannot advertise rooms it has no part in;
// unlisting needs nothing more than being the appservice.
func (s *Service) SetNetworkVisibility(ctx context.Context, req NetworkVisibilityRequest) error {
	if req.AppserviceID == "" {
		return mxerr.Forbidden.WithMessage("only application services may change their networks' room directories")
	}
	public, err := parseVisibility(req.Visibility)
	if err != nil {
		return err
	}
	if req.NetworkID == "" {
		return mxerr.InvalidParam.WithMessage("networkId must not be empty")
	}
	if _, err := s.roomForDirectory(ctx, req.RoomID); err != nil {
		return err
	}
	instanceID := NetworkInstanceID(req.AppserviceID, req.NetworkID)
	if !public {
		return s.db.UnlistRoomFromNetwork(ctx, instanceID, req.RoomID)
	}
	if m, err := s.Membership(ctx, req.RoomID, req.UserID); err != nil {
		return err
	} else if m != string(event.MembershipJoin) {
		return mxerr.Forbidden.WithMessage("%s must be in %s to list it in the directory", req.UserID, req.RoomID)
	}
	return s.db.ListRoomInNetwork(ctx, storage.NetworkListing{
		InstanceID: instanceID, AppserviceID: req.AppserviceID, NetworkID: req.NetworkID,
		RoomID: req.RoomID, CreatedTS: s.now().UnixMilli(),
	})
}

// DirectoryQuery is a /publicRooms request.
type DirectoryQuery struct {
	Limit  int    // 0: DefaultDirectoryLimit
	Since  string // a next_batch or prev_batch token; "" for the first page
	Server string // the server whose directory to list; "" for this one
	// SearchTerm keeps the rooms whose name, topic or canonical alias contain it, ignoring case.
	SearchTerm string
	// RoomTypes keeps the rooms of these types, a nil entry standing for rooms without a type;
	// empty keeps every room.
	RoomTypes            []*string
	IncludeAllNetworks   bool
	ThirdPartyInstanceID string
}

// PublicRoom is one entry of the directory (data/api/client-server/definitions/public_rooms_chunk.yaml).
type PublicRoom struct {
	RoomID           id.RoomID           `json:"room_id"`
	Name             string              `json:"name,omitempty"`
	Topic            string              `json:"topic,omitempty"`
	CanonicalAlias   id.RoomAlias        `json:"canonical_alias,omitempty"`
	AvatarURL        id.ContentURIString `json:"avatar_url,omitempty"`
	NumJoinedMembers int64               `json:"num_joined_members"`
	WorldReadable    bool                `json:"world_readable"`
	GuestCanJoin     bool                `json:"guest_can_join"`
	JoinRule         string              `json:"join_rule,omitempty"`
	RoomType         string              `json:"room_type,omitempty"`
}

// PublicRooms is one page of the directory (data/api/client-server/definitions/public_rooms_response.yaml).
type PublicRooms struct {
	Chunk                  []PublicRoom `json:"chunk"`
	NextBatch              string       `json:"next_batch,omitempty"`
	PrevBatch              string       `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate int64        `json:"total_room_count_estimate"`
}

// directoryScanBatch is how many rooms' state a listing reads in one query.
const directoryScanBatch = 100

// PublicRooms lists a page of the server's published rooms, most joined members first, then
// by room ID (the order the spec recommends). Pages are cut at a room's place in that order
// (keyset pagination), so a token stays valid however the directory changes; a room whose
// member count changes between two requests may move across the cut. The rooms' state is read
// a batch of rooms at a time, one query per batch.
func (s *Service) PublicRooms(ctx context.Context, q DirectoryQuery) (*PublicRooms, error) {
	if q.Server != "" && q.Server != s.serverName {
		return nil, mxerr.NotFound.WithMessage("the directory of %s cannot be listed: this server does not federate", q.Server)
	}
	scope := storage.DirectoryScope{AllNetworks: q.IncludeAllNetworks, InstanceID: q.ThirdPartyInstanceID}
	if scope.AllNetworks && scope.InstanceID != "" {
		return nil, mxerr.InvalidParam.WithMessage("third_party_instance_id cannot be combined with include_all_networks")
	}
	if scope.InstanceID != "" && !strings.Contains(scope.InstanceID, "|") {
		return nil, mxerr.InvalidParam.WithMessage("%q is not a protocol instance ID", scope.InstanceID)
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, mxerr.InvalidParam.WithMessage("limit must not be negative")
	case limit == 0:
		limit = DefaultDirectoryLimit
	case limit > MaxDirectoryLimit:
		limit = MaxDirectoryLimit
	}
	var cur directoryCursor
	if q.Since != "" {
		var err error
		if cur, err = parseDirectoryCursor(q.Since); err != nil {
			return nil, err
		}
	}
	total, err := s.db.CountDirectoryRooms(ctx, scope)
	if err != nil {
		return nil, err
	}

	// Unfiltered, the page is the next limit rooms; one more tells whether another page
	// follows. Filtered, every room past the cut is a candidate: their places in the order come
	// in one query, and their state is read a batch at a time until the page is full.
	filter := newDirectoryFilter(q)
	want := limit + 1
	if filter != nil {
		want = 0
	}
	found, err := s.db.DirectoryRooms(ctx, scope, cur.key, cur.backward, want)
	if err != nil {
		return nil, err
	}
	var page []PublicRoom
	var keys []storage.DirectoryKey
	for start := 0; start < len(found) && len(page) <= limit; start += directoryScanBatch {
		batch := found[start:min(start+directoryScanBatch, len(found))]
		summaries, err := s.summarize(ctx, batch)
		if err != nil {
			return nil, err
		}
		for i, room := range summaries {
			if filter.keeps(room) {
				page = append(page, room)
				keys = append(keys, batch[i].DirectoryKey)
				if len(page) > limit {
					break
				}
			}
		}
	}
	more := len(page) > limit
	page, keys = page[:min(len(page), limit)], keys[:min(len(keys), limit)]
	if cur.backward {
		slices.Reverse(page)
		slices.Reverse(keys)
	}

	out := &PublicRooms{Chunk: page, TotalRoomCountEstimate: total}
	if out.Chunk == nil {
		out.Chunk = []PublicRoom{}
	}
	// Past the last room comes a next page when more rooms were found, or, walking backward,
	// the room the walk started from. Before the first room comes a previous page when walking
	// forward from a token, or when more rooms were found walking backward. An empty page
	// points at the other end of the list, which holds the rooms on the far side of the cut.
	var first, last *storage.DirectoryKey
	if len(keys) > 0 {
		first, last = &keys[0], &keys[len(keys)-1]
	}
	if more && !cur.backward || cur.backward && cur.key != nil {
		out.NextBatch = directoryCursor{key: last}.String()
	}
	if more && cur.backward || !cur.backward && cur.key != nil {
		out.PrevBatch = directoryCursor{key: first, backward: true}.String()
	}
	return out, nil
}

// directoryCursor is a position in the directory's order, which a pagination token encodes:
// forward, the rooms after key (from the start when key is nil); backward, the rooms before
// key (from the end when key is nil).
type directoryCursor struct {
	key      *storage.DirectoryKey
	backward bool
}

// String encodes the cursor as an opaque token: "f" or "b", then "<joined members>_<room ID>"
// unless at an end, in unpadded base64url.
func (c directoryCursor) String() string {
	raw := "f"
	if c.backward {
		raw = "b"
	}
	if c.key != nil {
		raw += strconv.FormatInt(c.key.JoinedMembers, 10) + "_" + string(c.key.RoomID)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseDirectoryCursor(token string) (directoryCursor, error) {
	bad := mxerr.InvalidParam.WithMessage("since is not a pagination token of this server")
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) == 0 || b[0] != 'f' && b[0] != 'b' {
		return directoryCursor{}, bad
	}
	cur := directoryCursor{backward: b[0] == 'b'}
	if rest := string(b[1:]); rest != "" {
		n, roomID, ok := strings.Cut(rest, "_")
		joined, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || joined < 0 || !strings.HasPrefix(roomID, "!") {
			return directoryCursor{}, bad
		}
		cur.key = &storage.DirectoryKey{JoinedMembers: joined, RoomID: id.RoomID(roomID)}
	}
	return cur, nil
}

// directoryFilter is the filter of a POST /publicRooms; nil keeps every room.
type directoryFilter struct {
	term      string // lower case
	anyType   bool
	untyped   bool
	typeNames map[string]bool
}

func newDirectoryFilter(q DirectoryQuery) *directoryFilter {
	if q.SearchTerm == "" && len(q.RoomTypes) == 0 {
		return nil
	}
	f := &directoryFilter{term: strings.ToLower(q.SearchTerm), anyType: len(q.RoomTypes) == 0, typeNames: map[string]bool{}}
	for _, t := range q.RoomTypes {
		if t == nil {
			f.untyped = true
		} else {
			f.typeNames[*t] = true
		}
	}
	return f
}

func (f *directoryFilter) keeps(room PublicRoom) bool {
	if f == nil {
		return true
	}
	if !f.anyType && !(room.RoomType == "" && f.untyped || room.RoomType != "" && f.typeNames[room.RoomType]) {
		return false
	}
	if f.term == "" {
		return true
	}
	for _, field := range []string{room.Name, room.Topic, string(room.CanonicalAlias)} {
		if strings.Contains(strings.ToLower(field), f.term) {
			return true
		}
	}
	return false
}

// directoryStateTypes are the state events a directory entry is made from.
var directoryStateTypes = []string{
	event.StateCreate.Type, event.StateRoomName.Type, event.StateTopic.Type, event.StateCanonicalAlias.Type,
	event.StateRoomAvatar.Type, event.StateJoinRules.Type, event.StateHistoryVisibility.Type, event.StateGuestAccess.Type,
}

// summarize builds the directory entries of rooms, in the same order, reading the state of
// them all in one query. Content that does not parse is left out of the entry.
func (s *Service) summarize(ctx context.Context, rooms []storage.DirectoryRoom) ([]PublicRoom, error) {
	if len(rooms) == 0 {
		return nil, nil
	}
	ids := make([]id.RoomID, len(rooms))
	versions := make(map[id.RoomID]id.RoomVersion, len(rooms))
	for i, r := range rooms {
		ids[i] = r.RoomID
		versions[r.RoomID] = r.Version
	}
	evs, err := s.db.CurrentStateOfRooms(ctx, ids, directoryStateTypes)
	if err != nil {
		return nil, err
	}
	out := make([]PublicRoom, len(rooms))
	index := make(map[id.RoomID]int, len(rooms))
	for i, r := range rooms {
		out[i] = PublicRoom{RoomID: r.RoomID, NumJoinedMembers: r.JoinedMembers}
		index[r.RoomID] = i
	}
	for _, ev := range evs {
		p, err := ParsePDU(ev)
		if err != nil {
			return nil, err
		}
		content := p.Content
		if ev.RedactedBy != "" {
			content = pdu.RedactContent(p.Type, content, versions[ev.RoomID])
		}
		applyDirectoryState(&out[index[ev.RoomID]], p.Type, content)
	}
	return out, nil
}

// applyDirectoryState sets the fields of a directory entry that one state event gives.
func applyDirectoryState(room *PublicRoom, evType string, content jsontext.Value) {
	var fields map[string]jsontext.Value
	if json.Unmarshal(content, &fields) != nil {
		return
	}
	str := func(key string) string {
		var v string
		json.Unmarshal(fields[key], &v) // absent or not a string: ""
		return v
	}
	switch evType {
	case event.StateCreate.Type:
		room.RoomType = str("type")
	case event.StateRoomName.Type:
		room.Name = str("name")
	case event.StateTopic.Type:
		// topic is the plain-text form; an empty one means no topic (m.room.topic's schema).
		room.Topic = str("topic")
	case event.StateCanonicalAlias.Type:
		if alias := str("alias"); strings.HasPrefix(alias, "#") {
			room.CanonicalAlias = id.RoomAlias(alias)
		}
	case event.StateRoomAvatar.Type:
		if url := str("url"); strings.HasPrefix(url, "mxc://") {
			room.AvatarURL = id.ContentURIString(url)
		}
	case event.StateJoinRules.Type:
		room.JoinRule = str("join_rule")
	case event.StateHistoryVisibility.Type:
		room.WorldReadable = str("history_visibility") == string(event.HistoryVisibilityWorldReadable)
	case event.StateGuestAccess.Type:
		room.GuestCanJoin = str("guest_access") == string(event.GuestAccessCanJoin)
	}
}
