package syncapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// Filters are specified in data/api/client-server/definitions/sync_filter.yaml (Filter, RoomFilter),
// room_event_filter.yaml (RoomEventFilter) and event_filter.yaml (EventFilter). mautrix's types are the
// wire format: mautrix.FilterPart stands for both EventFilter and RoomEventFilter.

const (
	// DefaultTimelineLimit is the number of timeline events per room that /sync returns when the
	// filter sets no limit. Synapse uses the same value.
	DefaultTimelineLimit = 10
	// MaxTimelineLimit caps a filter's timeline limit. The spec asks servers to impose a maximum
	// (event_filter.yaml, limit). 100 events per room keeps an initial sync over many rooms bounded,
	// and a client that wants more history pages back with /messages.
	MaxTimelineLimit = 100
)

// ParseFilter decodes a filter as uploaded to POST /_matrix/client/v3/user/{userId}/filter
// (data/api/client-server/filter.yaml) or passed inline as /sync?filter={...}, and validates it.
//
// Unknown fields are ignored. Errors are protocol answers, all with status 400:
// M_NOT_JSON when data is not JSON at all, M_BAD_JSON when it is not a JSON object or a field has
// the wrong JSON type, and M_INVALID_PARAM when a value breaks the spec's constraints (event_format
// other than client or federation, a negative limit, a room ID without "!", a user ID without "@").
//
// A limit of 0 is accepted and means unset, because mautrix.FilterPart cannot tell the two apart.
//
// Callers that store a filter should store data as received rather than re-marshalling the result:
// mautrix's omitempty tags would turn an empty list such as "types": [] (which matches nothing)
// into an absent one (which matches everything).
func ParseFilter(data []byte) (mautrix.Filter, error) {
	var f mautrix.Filter
	if !json.Valid(data) {
		return f, mautrix.MNotJSON.WithMessage("filter is not valid JSON")
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return f, mautrix.MBadJSON.WithMessage("filter must be a JSON object")
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return mautrix.Filter{}, mautrix.MBadJSON.WithMessage("invalid filter: %s", jsonErrorDetail(err))
	}
	if err := validateFilter(&f); err != nil {
		return mautrix.Filter{}, err
	}
	if err := checkNoNullStrings(data); err != nil {
		return mautrix.Filter{}, err
	}
	return f, nil
}

// nullableStringLists are the gjson paths of the string lists in which encoding/json would
// silently decode a null entry as "". Room and user ID lists need no entry here: "" fails their
// sigil check.
var nullableStringLists = func() []string {
	paths := []string{"event_fields"}
	for _, part := range []string{"presence", "account_data", `com\.beeper\.to_device`,
		"room.timeline", "room.state", "room.ephemeral", "room.account_data"} {
		paths = append(paths, part+".types", part+".not_types")
	}
	return paths
}()

func checkNoNullStrings(data []byte) error {
	for _, res := range gjson.GetManyBytes(data, nullableStringLists...) {
		for _, entry := range res.Array() {
			if entry.Type == gjson.Null {
				return mautrix.MBadJSON.WithMessage("invalid filter: lists of strings must not contain null")
			}
		}
	}
	return nil
}

// jsonErrorDetail describes a decoding error without echoing Go type names back to the client.
func jsonErrorDetail(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("%s has the wrong type", typeErr.Field)
	}
	return "a field has the wrong type"
}

func validateFilter(f *mautrix.Filter) error {
	switch f.EventFormat {
	case "", mautrix.EventFormatClient, mautrix.EventFormatFederation:
	default:
		return mautrix.MInvalidParam.WithMessage("event_format must be %q or %q", mautrix.EventFormatClient, mautrix.EventFormatFederation)
	}
	type namedPart struct {
		name string
		part *mautrix.FilterPart
	}
	parts := []namedPart{
		{"presence", f.Presence},
		{"account_data", f.AccountData},
		{"com.beeper.to_device", f.BeeperToDevice},
	}
	if r := f.Room; r != nil {
		if err := validateRoomIDs("room.rooms", r.Rooms); err != nil {
			return err
		}
		if err := validateRoomIDs("room.not_rooms", r.NotRooms); err != nil {
			return err
		}
		parts = append(parts,
			namedPart{"room.timeline", r.Timeline},
			namedPart{"room.state", r.State},
			namedPart{"room.ephemeral", r.Ephemeral},
			namedPart{"room.account_data", r.AccountData},
		)
	}
	for _, p := range parts {
		if err := validateFilterPart(p.name, p.part); err != nil {
			return err
		}
	}
	return nil
}

func validateFilterPart(name string, p *mautrix.FilterPart) error {
	if p == nil {
		return nil
	}
	if p.Limit < 0 {
		return mautrix.MInvalidParam.WithMessage("%s.limit must not be negative", name)
	}
	if err := validateRoomIDs(name+".rooms", p.Rooms); err != nil {
		return err
	}
	if err := validateRoomIDs(name+".not_rooms", p.NotRooms); err != nil {
		return err
	}
	if err := validateUserIDs(name+".senders", p.Senders); err != nil {
		return err
	}
	return validateUserIDs(name+".not_senders", p.NotSenders)
}

// validateRoomIDs checks only the sigil, which is what the spec's pattern ("^!") demands: room IDs
// in room version 12 have no server name, so nothing more can be required of them.
func validateRoomIDs(name string, ids []id.RoomID) error {
	for _, roomID := range ids {
		if !strings.HasPrefix(string(roomID), "!") {
			return mautrix.MInvalidParam.WithMessage("%s: %q is not a room ID", name, roomID)
		}
	}
	return nil
}

func validateUserIDs(name string, ids []id.UserID) error {
	for _, userID := range ids {
		if !strings.HasPrefix(string(userID), "@") {
			return mautrix.MInvalidParam.WithMessage("%s: %q is not a user ID", name, userID)
		}
	}
	return nil
}

// FilterEvent is what MatchEvent needs to know about an event. Content is only read when the
// filter sets contains_url, so callers may leave it nil for filters without it.
type FilterEvent struct {
	// RoomID is empty for events outside rooms (presence, global account data); the rooms and
	// not_rooms lists do not apply to those.
	RoomID id.RoomID
	Sender id.UserID
	Type   string
	// Content is the raw JSON of the event's content.
	Content []byte
}

// MatchEvent reports whether ev passes part, an EventFilter or RoomEventFilter
// (event_filter.yaml, room_event_filter.yaml). A nil part matches every event.
//
// An absent list places no restriction, but a present empty list matches nothing: "types": []
// admits no type. Each not_* list wins over its positive list. Types in types and not_types may
// contain "*" anywhere, matching any sequence of characters; senders and rooms match exactly.
// limit, lazy_load_members and the other options are not matching criteria and are ignored here.
func MatchEvent(part *mautrix.FilterPart, ev FilterEvent) bool {
	if part == nil {
		return true
	}
	if ev.RoomID != "" {
		if slices.Contains(part.NotRooms, ev.RoomID) {
			return false
		}
		if part.Rooms != nil && !slices.Contains(part.Rooms, ev.RoomID) {
			return false
		}
	}
	if slices.Contains(part.NotSenders, ev.Sender) {
		return false
	}
	if part.Senders != nil && !slices.Contains(part.Senders, ev.Sender) {
		return false
	}
	for _, t := range part.NotTypes {
		if matchTypeGlob(t.Type, ev.Type) {
			return false
		}
	}
	if part.Types != nil {
		matched := false
		for _, t := range part.Types {
			if matchTypeGlob(t.Type, ev.Type) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	if part.ContainsURL != nil {
		// The spec asks only for a "url" key in content (room_event_filter.yaml, contains_url),
		// whatever its value. Synapse additionally requires a string; we follow the spec.
		// gjson finds the key without unmarshalling the content.
		if gjson.GetBytes(ev.Content, "url").Exists() != *part.ContainsURL {
			return false
		}
	}
	return true
}

// matchTypeGlob reports whether s matches pattern, in which "*" matches any sequence of
// characters (including none) and every other character matches itself. It runs in
// O(len(pattern)*len(s)) at worst without allocating, and in one pass for patterns without "*".
func matchTypeGlob(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			starP, starI = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case starP >= 0:
			// Let the last "*" swallow one more character and retry from there.
			starI++
			p, i = starP+1, starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// MatchRoom reports whether roomID passes the room-level rooms and not_rooms lists of f
// (sync_filter.yaml, RoomFilter), which apply before the ephemeral, state, timeline and
// account_data filters. A nil f matches every room; not_rooms wins over rooms, and a present
// empty rooms list matches no room.
func MatchRoom(f *mautrix.RoomFilter, roomID id.RoomID) bool {
	if f == nil {
		return true
	}
	if slices.Contains(f.NotRooms, roomID) {
		return false
	}
	return f.Rooms == nil || slices.Contains(f.Rooms, roomID)
}

// TimelineLimit returns how many timeline events per room /sync should return under f: the
// timeline filter's limit if set, otherwise def, otherwise DefaultTimelineLimit (when def <= 0),
// in every case capped at MaxTimelineLimit.
func TimelineLimit(f *mautrix.RoomFilter, def int) int {
	limit := def
	if limit <= 0 {
		limit = DefaultTimelineLimit
	}
	if f != nil && f.Timeline != nil && f.Timeline.Limit > 0 {
		limit = f.Timeline.Limit
	}
	return min(limit, MaxTimelineLimit)
}

// LazyLoadMembers reports whether f asks /sync to lazy-load room members (content/client-server-api/_index.md,
// "Lazy-loading room members"). The spec enables it by lazy_load_members on "a RoomEventFilter"
// without saying which: Synapse and dendrite read the state filter, where clients put it, and we
// also honour it on the timeline filter since that too is a RoomEventFilter of the same request.
func LazyLoadMembers(f *mautrix.RoomFilter) bool {
	if f == nil {
		return false
	}
	return (f.State != nil && f.State.LazyLoadMembers) || (f.Timeline != nil && f.Timeline.LazyLoadMembers)
}

// IncludeRedundantMembers reports whether f asks for membership events the client has already
// been sent. It is true only together with lazy_load_members on the same RoomEventFilter
// (room_event_filter.yaml: it "does not apply unless lazy_load_members is true").
func IncludeRedundantMembers(f *mautrix.RoomFilter) bool {
	if f == nil {
		return false
	}
	on := func(p *mautrix.FilterPart) bool {
		return p != nil && p.LazyLoadMembers && p.IncludeRedundantMembers
	}
	return on(f.State) || on(f.Timeline)
}

// IncludeLeave reports whether f asks /sync to include rooms the user has left.
func IncludeLeave(f *mautrix.RoomFilter) bool {
	return f != nil && f.IncludeLeave
}

// ApplyEventFields implements a filter's event_fields (sync_filter.yaml) on one client-format
// event: it returns a JSON object holding only the fields named by fields, which are
// dot-separated property paths (content/appendices.md, "Dot-separated property paths").
//
// Fields keep the order they have in the event and their values are copied byte for byte.
// A path that is missing, or that runs through a value that is not an object, selects nothing,
// and an object is only emitted on the way to a field that exists. A nil or empty fields returns
// event unchanged: the spec includes all fields when the list is absent, and lets the server
// include more fields than were requested. ApplyEventFields fails only if event is not a JSON object.
func ApplyEventFields(event []byte, fields []string) ([]byte, error) {
	if len(fields) == 0 {
		return event, nil
	}
	if !gjson.ValidBytes(event) {
		return nil, errors.New("apply event_fields: event is not valid JSON")
	}
	root := gjson.ParseBytes(event)
	if !root.IsObject() {
		return nil, errors.New("apply event_fields: event is not a JSON object")
	}
	tree := &fieldNode{}
	for _, f := range fields {
		tree.add(splitPropertyPath(f))
	}
	var buf bytes.Buffer
	buf.Grow(len(event))
	tree.project(root, &buf)
	return buf.Bytes(), nil
}

// fieldNode is one level of the requested paths. whole means the value at this level is kept
// entirely, which makes any deeper paths below it redundant.
type fieldNode struct {
	whole    bool
	children map[string]*fieldNode
}

func (n *fieldNode) add(path []string) {
	for _, name := range path {
		if n.whole {
			return
		}
		child := n.children[name]
		if child == nil {
			if n.children == nil {
				n.children = make(map[string]*fieldNode)
			}
			child = &fieldNode{}
			n.children[name] = child
		}
		n = child
	}
	n.whole = true
	n.children = nil
}

// project writes obj as an object holding only the fields selected by n and returns how many
// fields it wrote.
func (n *fieldNode) project(obj gjson.Result, buf *bytes.Buffer) int {
	count := 0
	buf.WriteByte('{')
	obj.ForEach(func(key, value gjson.Result) bool {
		child := n.children[key.Str]
		if child == nil {
			return true
		}
		start := buf.Len()
		if count > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(key.Raw)
		buf.WriteByte(':')
		switch {
		case child.whole:
			buf.WriteString(value.Raw)
		case value.IsObject() && child.project(value, buf) > 0:
		default:
			buf.Truncate(start)
			return true
		}
		count++
		return true
	})
	buf.WriteByte('}')
	return count
}

// splitPropertyPath splits a dot-separated property path (content/appendices.md): an unescaped
// "." separates names, `\.` is a literal dot and `\\` a literal backslash, and any other
// backslash is kept as it is.
func splitPropertyPath(path string) []string {
	var names []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\' && i+1 < len(path) && (path[i+1] == '.' || path[i+1] == '\\'):
			i++
			cur.WriteByte(path[i])
		case c == '.':
			names = append(names, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(names, cur.String())
}

// ParseRoomEventFilter decodes the RoomEventFilter of /messages' filter parameter
// (data/api/client-server/definitions/room_event_filter.yaml), with ParseFilter's errors.
func ParseRoomEventFilter(data []byte) (*mautrix.FilterPart, error) {
	var p mautrix.FilterPart
	if !json.Valid(data) {
		return nil, mautrix.MNotJSON.WithMessage("filter is not valid JSON")
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, mautrix.MBadJSON.WithMessage("filter must be a JSON object")
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, mautrix.MBadJSON.WithMessage("invalid filter: %s", jsonErrorDetail(err))
	}
	if err := validateFilterPart("filter", &p); err != nil {
		return nil, err
	}
	if err := checkNoNullStrings(data); err != nil {
		return nil, err
	}
	return &p, nil
}
