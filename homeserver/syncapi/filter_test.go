package syncapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func filterTypes(names ...string) []event.Type {
	types := make([]event.Type, len(names))
	for i, n := range names {
		types[i] = event.NewEventType(n)
	}
	return types
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		name string
		in   string
		want mautrix.Filter
	}{
		{
			name: "empty object",
			in:   `{}`,
			want: mautrix.Filter{},
		},
		{
			name: "spec example",
			in: `{
				"room": {
					"state": {"types": ["m.room.*"], "not_rooms": ["!726s6s6q:example.com"]},
					"timeline": {"limit": 10, "types": ["m.room.message"], "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]},
					"ephemeral": {"types": ["m.receipt", "m.typing"], "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]}
				},
				"presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]},
				"event_format": "client",
				"event_fields": ["type", "content", "sender"]
			}`,
			want: mautrix.Filter{
				Room: &mautrix.RoomFilter{
					State: &mautrix.FilterPart{
						Types:    filterTypes("m.room.*"),
						NotRooms: []id.RoomID{"!726s6s6q:example.com"},
					},
					Timeline: &mautrix.FilterPart{
						Limit:      10,
						Types:      filterTypes("m.room.message"),
						NotRooms:   []id.RoomID{"!726s6s6q:example.com"},
						NotSenders: []id.UserID{"@spam:example.com"},
					},
					Ephemeral: &mautrix.FilterPart{
						Types:      filterTypes("m.receipt", "m.typing"),
						NotRooms:   []id.RoomID{"!726s6s6q:example.com"},
						NotSenders: []id.UserID{"@spam:example.com"},
					},
				},
				Presence: &mautrix.FilterPart{
					Types:      filterTypes("m.presence"),
					NotSenders: []id.UserID{"@alice:example.com"},
				},
				EventFormat: mautrix.EventFormatClient,
				EventFields: []string{"type", "content", "sender"},
			},
		},
		{
			name: "federation format",
			in:   `{"event_format": "federation"}`,
			want: mautrix.Filter{EventFormat: mautrix.EventFormatFederation},
		},
		{
			// mautrix.Filter cannot tell an empty event_format from an absent one.
			name: "empty event_format is the default",
			in:   `{"event_format": ""}`,
			want: mautrix.Filter{},
		},
		{
			name: "unknown fields ignored",
			in:   `{"org.example.x": 1, "room": {"org.example.y": [1], "timeline": {"labels": ["#fun"], "limit": 5}}}`,
			want: mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: 5}}},
		},
		{
			name: "empty lists stay present",
			in:   `{"room": {"rooms": [], "timeline": {"types": [], "senders": []}}}`,
			want: mautrix.Filter{Room: &mautrix.RoomFilter{
				Rooms:    []id.RoomID{},
				Timeline: &mautrix.FilterPart{Types: []event.Type{}, Senders: []id.UserID{}},
			}},
		},
		{
			name: "null lists and parts are absent",
			in:   `{"presence": null, "room": {"rooms": null, "timeline": {"types": null}}}`,
			want: mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{}}},
		},
		{
			name: "zero limit means unset",
			in:   `{"room": {"timeline": {"limit": 0}}}`,
			want: mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{}}},
		},
		{
			name: "room event filter options",
			in: `{"room": {"include_leave": true, "not_rooms": ["!a"], "state": {
				"lazy_load_members": true, "include_redundant_members": true, "contains_url": false,
				"unread_thread_notifications": true}}, "account_data": {"contains_url": true}}`,
			want: mautrix.Filter{
				Room: &mautrix.RoomFilter{
					IncludeLeave: true,
					NotRooms:     []id.RoomID{"!a"},
					State: &mautrix.FilterPart{
						LazyLoadMembers:           true,
						IncludeRedundantMembers:   true,
						ContainsURL:               &no,
						UnreadThreadNotifications: true,
					},
				},
				AccountData: &mautrix.FilterPart{ContainsURL: &yes},
			},
		},
		{
			name: "v12 room ID without server name",
			in:   `{"room": {"rooms": ["!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"]}}`,
			want: mautrix.Filter{Room: &mautrix.RoomFilter{Rooms: []id.RoomID{"!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"}}},
		},
		{
			name: "surrounding whitespace",
			in:   " \n\t{\"event_fields\": [\"content.m\\\\.relates_to\"]}\r\n",
			want: mautrix.Filter{EventFields: []string{`content.m\.relates_to`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFilter([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseFilter(%s) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFilter(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantCode string
	}{
		{"empty input", ``, "M_NOT_JSON"},
		{"whitespace only", `  `, "M_NOT_JSON"},
		{"truncated", `{"room": {`, "M_NOT_JSON"},
		{"trailing garbage", `{} x`, "M_NOT_JSON"},
		{"two objects", `{}{}`, "M_NOT_JSON"},
		{"single quotes", `{'room': {}}`, "M_NOT_JSON"},
		{"form encoded", `filter=1`, "M_NOT_JSON"},
		{"array", `[]`, "M_BAD_JSON"},
		{"string", `"{}"`, "M_BAD_JSON"},
		{"number", `1`, "M_BAD_JSON"},
		{"null", `null`, "M_BAD_JSON"},
		{"room is an array", `{"room": []}`, "M_BAD_JSON"},
		{"presence is a string", `{"presence": "none"}`, "M_BAD_JSON"},
		{"event_fields is a string", `{"event_fields": "content"}`, "M_BAD_JSON"},
		{"event_fields entry is a number", `{"event_fields": ["type", 1]}`, "M_BAD_JSON"},
		{"event_fields entry is an object", `{"event_fields": [{"a": "b"}]}`, "M_BAD_JSON"},
		{"event_fields entry is null", `{"event_fields": [null]}`, "M_BAD_JSON"},
		{"event_format is a number", `{"event_format": 1}`, "M_BAD_JSON"},
		{"types entry is null", `{"room": {"timeline": {"types": ["m.*", null]}}}`, "M_BAD_JSON"},
		{"not_types entry is null", `{"presence": {"not_types": [null]}}`, "M_BAD_JSON"},
		{"to_device types entry is null", `{"com.beeper.to_device": {"types": [null]}}`, "M_BAD_JSON"},
		{"senders entry is null", `{"room": {"state": {"senders": [null]}}}`, "M_INVALID_PARAM"},
		{"types entry is a number", `{"room": {"timeline": {"types": [1]}}}`, "M_BAD_JSON"},
		{"types is a string", `{"room": {"timeline": {"types": "m.*"}}}`, "M_BAD_JSON"},
		{"limit is a string", `{"room": {"timeline": {"limit": "10"}}}`, "M_BAD_JSON"},
		{"limit is fractional", `{"room": {"timeline": {"limit": 1.5}}}`, "M_BAD_JSON"},
		{"limit overflows", `{"room": {"timeline": {"limit": 1e40}}}`, "M_BAD_JSON"},
		{"include_leave is a string", `{"room": {"include_leave": "true"}}`, "M_BAD_JSON"},
		{"lazy_load_members is a number", `{"room": {"state": {"lazy_load_members": 1}}}`, "M_BAD_JSON"},
		{"contains_url is a string", `{"room": {"timeline": {"contains_url": "yes"}}}`, "M_BAD_JSON"},
		{"rooms entry is a number", `{"room": {"rooms": [1]}}`, "M_BAD_JSON"},
		{"event_format unknown", `{"event_format": "raw"}`, "M_INVALID_PARAM"},
		{"event_format wrong case", `{"event_format": "Client"}`, "M_INVALID_PARAM"},
		{"negative timeline limit", `{"room": {"timeline": {"limit": -1}}}`, "M_INVALID_PARAM"},
		{"negative state limit", `{"room": {"state": {"limit": -5}}}`, "M_INVALID_PARAM"},
		{"negative ephemeral limit", `{"room": {"ephemeral": {"limit": -1}}}`, "M_INVALID_PARAM"},
		{"negative room account_data limit", `{"room": {"account_data": {"limit": -1}}}`, "M_INVALID_PARAM"},
		{"negative presence limit", `{"presence": {"limit": -1}}`, "M_INVALID_PARAM"},
		{"negative account_data limit", `{"account_data": {"limit": -1}}`, "M_INVALID_PARAM"},
		{"negative to_device limit", `{"com.beeper.to_device": {"limit": -1}}`, "M_INVALID_PARAM"},
		{"room.rooms alias", `{"room": {"rooms": ["#alias:example.com"]}}`, "M_INVALID_PARAM"},
		{"room.not_rooms empty string", `{"room": {"not_rooms": [""]}}`, "M_INVALID_PARAM"},
		{"timeline.rooms user ID", `{"room": {"timeline": {"rooms": ["@a:b"]}}}`, "M_INVALID_PARAM"},
		{"state.not_rooms bare", `{"room": {"state": {"not_rooms": ["abc"]}}}`, "M_INVALID_PARAM"},
		{"senders room ID", `{"room": {"timeline": {"senders": ["!r:b"]}}}`, "M_INVALID_PARAM"},
		{"presence.not_senders localpart", `{"presence": {"not_senders": ["alice"]}}`, "M_INVALID_PARAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFilter([]byte(tt.in))
			var respErr mautrix.RespError
			if !errors.As(err, &respErr) {
				t.Fatalf("ParseFilter(%s) error = %#v, want a mautrix.RespError", tt.in, err)
			}
			got := struct {
				Code   string
				Status int
			}{respErr.ErrCode, respErr.StatusCode}
			want := struct {
				Code   string
				Status int
			}{tt.wantCode, http.StatusBadRequest}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseFilter(%s) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if respErr.Err == "" {
				t.Errorf("ParseFilter(%s) error has no message", tt.in)
			}
		})
	}
}

func TestMatchTypeGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "m.room.message", false},
		{"m.room.message", "m.room.message", true},
		{"m.room.message", "m.room.messages", false},
		{"m.room.message", "m.room.messag", false},
		{"m.room.message", "M.ROOM.MESSAGE", false},
		{"*", "", true},
		{"*", "anything.at.all", true},
		{"**", "x", true},
		{"m.*", "m.room.message", true},
		{"m.*", "m.", true},
		{"m.*", "m", false},
		{"m.*", "org.m.x", false},
		{"m.room.*", "m.room", false},
		{"m.room*", "m.room", true},
		{"*.member", "m.room.member", true},
		{"*.member", "m.room.members", false},
		{"m.*.member", "m.room.member", true},
		{"m.*.member", "m..member", true},
		{"m.*.member", "m.member", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxcyyb", false},
		{"a*b", "abxb", true},
		{"a*b", "abc", false},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"m.?oom", "m.room", false},
		{"m.[r]oom", "m.room", false},
		{"m.room.message", "m.room*message", false},
		{"*", "ünïcødé", true},
		{"ü*", "ünïcødé", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.s, func(t *testing.T) {
			t.Parallel()
			if got := matchTypeGlob(tt.pattern, tt.s); got != tt.want {
				t.Errorf("matchTypeGlob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestMatchEvent(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	msg := FilterEvent{
		RoomID:  "!room:example.com",
		Sender:  "@alice:example.com",
		Type:    "m.room.message",
		Content: []byte(`{"msgtype":"m.text","body":"hi"}`),
	}
	image := FilterEvent{
		RoomID:  "!room:example.com",
		Sender:  "@alice:example.com",
		Type:    "m.room.message",
		Content: []byte(`{"msgtype":"m.image","body":"cat.png","url":"mxc://example.com/cat"}`),
	}
	with := func(ev FilterEvent, edit func(*FilterEvent)) FilterEvent {
		edit(&ev)
		return ev
	}
	tests := []struct {
		name string
		part *mautrix.FilterPart
		ev   FilterEvent
		want bool
	}{
		{"nil part", nil, msg, true},
		{"empty part", &mautrix.FilterPart{}, msg, true},
		{"options only", &mautrix.FilterPart{Limit: 1, LazyLoadMembers: true}, msg, true},

		{"types exact", &mautrix.FilterPart{Types: filterTypes("m.room.message")}, msg, true},
		{"types other", &mautrix.FilterPart{Types: filterTypes("m.room.member")}, msg, false},
		{"types any of several", &mautrix.FilterPart{Types: filterTypes("m.room.member", "m.room.message")}, msg, true},
		{"types prefix without wildcard", &mautrix.FilterPart{Types: filterTypes("m.room")}, msg, false},
		{"types trailing wildcard", &mautrix.FilterPart{Types: filterTypes("m.room.*")}, msg, true},
		{"types inner wildcard", &mautrix.FilterPart{Types: filterTypes("m.*.message")}, msg, true},
		{"types leading wildcard", &mautrix.FilterPart{Types: filterTypes("*.message")}, msg, true},
		{"types wildcard miss", &mautrix.FilterPart{Types: filterTypes("org.example.*")}, msg, false},
		{"types star", &mautrix.FilterPart{Types: filterTypes("*")}, msg, true},
		{"types empty list matches nothing", &mautrix.FilterPart{Types: []event.Type{}}, msg, false},
		{"not_types exact", &mautrix.FilterPart{NotTypes: filterTypes("m.room.message")}, msg, false},
		{"not_types other", &mautrix.FilterPart{NotTypes: filterTypes("m.room.member")}, msg, true},
		{"not_types wildcard", &mautrix.FilterPart{NotTypes: filterTypes("m.*")}, msg, false},
		{"not_types empty list excludes nothing", &mautrix.FilterPart{NotTypes: []event.Type{}}, msg, true},
		{"not_types wins over types", &mautrix.FilterPart{
			Types:    filterTypes("m.room.message"),
			NotTypes: filterTypes("m.room.message"),
		}, msg, false},
		{"not_types wildcard wins over exact types", &mautrix.FilterPart{
			Types:    filterTypes("m.room.message"),
			NotTypes: filterTypes("*"),
		}, msg, false},

		{"senders listed", &mautrix.FilterPart{Senders: []id.UserID{"@alice:example.com"}}, msg, true},
		{"senders not listed", &mautrix.FilterPart{Senders: []id.UserID{"@bob:example.com"}}, msg, false},
		{"senders no wildcard", &mautrix.FilterPart{Senders: []id.UserID{"@*"}}, msg, false},
		{"senders empty list matches nothing", &mautrix.FilterPart{Senders: []id.UserID{}}, msg, false},
		{"not_senders listed", &mautrix.FilterPart{NotSenders: []id.UserID{"@alice:example.com"}}, msg, false},
		{"not_senders other", &mautrix.FilterPart{NotSenders: []id.UserID{"@bob:example.com"}}, msg, true},
		{"not_senders wins over senders", &mautrix.FilterPart{
			Senders:    []id.UserID{"@alice:example.com"},
			NotSenders: []id.UserID{"@alice:example.com"},
		}, msg, false},

		{"rooms listed", &mautrix.FilterPart{Rooms: []id.RoomID{"!room:example.com"}}, msg, true},
		{"rooms not listed", &mautrix.FilterPart{Rooms: []id.RoomID{"!other:example.com"}}, msg, false},
		{"rooms empty list matches nothing", &mautrix.FilterPart{Rooms: []id.RoomID{}}, msg, false},
		{"not_rooms listed", &mautrix.FilterPart{NotRooms: []id.RoomID{"!room:example.com"}}, msg, false},
		{"not_rooms wins over rooms", &mautrix.FilterPart{
			Rooms:    []id.RoomID{"!room:example.com"},
			NotRooms: []id.RoomID{"!room:example.com"},
		}, msg, false},
		{"rooms ignored outside rooms", &mautrix.FilterPart{
			Rooms:    []id.RoomID{"!other:example.com"},
			NotRooms: []id.RoomID{""},
		}, FilterEvent{Sender: "@alice:example.com", Type: "m.presence"}, true},

		{"contains_url true with url", &mautrix.FilterPart{ContainsURL: &yes}, image, true},
		{"contains_url true without url", &mautrix.FilterPart{ContainsURL: &yes}, msg, false},
		{"contains_url false with url", &mautrix.FilterPart{ContainsURL: &no}, image, false},
		{"contains_url false without url", &mautrix.FilterPart{ContainsURL: &no}, msg, true},
		{"contains_url unset with url", &mautrix.FilterPart{}, image, true},
		{"contains_url null url is a key", &mautrix.FilterPart{ContainsURL: &yes},
			with(msg, func(ev *FilterEvent) { ev.Content = []byte(`{"url":null}`) }), true},
		{"contains_url nested url is not", &mautrix.FilterPart{ContainsURL: &yes},
			with(msg, func(ev *FilterEvent) { ev.Content = []byte(`{"info":{"url":"mxc://a/b"},"body":"url"}`) }), false},
		{"contains_url key in string is not", &mautrix.FilterPart{ContainsURL: &yes},
			with(msg, func(ev *FilterEvent) { ev.Content = []byte(`{"body":"\"url\": 1"}`) }), false},
		{"contains_url nil content", &mautrix.FilterPart{ContainsURL: &no},
			with(msg, func(ev *FilterEvent) { ev.Content = nil }), true},
		{"contains_url nil content wanted", &mautrix.FilterPart{ContainsURL: &yes},
			with(msg, func(ev *FilterEvent) { ev.Content = nil }), false},
		{"content ignored without contains_url", &mautrix.FilterPart{Types: filterTypes("m.*")},
			with(msg, func(ev *FilterEvent) { ev.Content = []byte(`not json`) }), true},

		{"all criteria pass", &mautrix.FilterPart{
			Rooms:       []id.RoomID{"!room:example.com"},
			Senders:     []id.UserID{"@alice:example.com"},
			Types:       filterTypes("m.room.*"),
			NotTypes:    filterTypes("m.room.member"),
			ContainsURL: &yes,
		}, image, true},
		{"one criterion fails", &mautrix.FilterPart{
			Rooms:       []id.RoomID{"!room:example.com"},
			Senders:     []id.UserID{"@alice:example.com"},
			Types:       filterTypes("m.room.*"),
			ContainsURL: &yes,
		}, msg, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := MatchEvent(tt.part, tt.ev); got != tt.want {
				t.Errorf("MatchEvent(%+v, %+v) = %v, want %v", tt.part, tt.ev, got, tt.want)
			}
		})
	}
}

func TestMatchEventParsedEmptyTypes(t *testing.T) {
	t.Parallel()
	// The difference between [] and an absent list must survive ParseFilter.
	f, err := ParseFilter([]byte(`{"room": {"timeline": {"types": []}, "state": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ev := FilterEvent{RoomID: "!r:a", Sender: "@u:a", Type: "m.room.message"}
	got := []bool{MatchEvent(f.Room.Timeline, ev), MatchEvent(f.Room.State, ev)}
	if diff := cmp.Diff([]bool{false, true}, got); diff != "" {
		t.Errorf("MatchEvent(timeline, state) mismatch (-want +got):\n%s", diff)
	}
}

func TestMatchRoom(t *testing.T) {
	t.Parallel()
	const room id.RoomID = "!room:example.com"
	tests := []struct {
		name string
		f    *mautrix.RoomFilter
		want bool
	}{
		{"nil filter", nil, true},
		{"empty filter", &mautrix.RoomFilter{}, true},
		{"rooms listed", &mautrix.RoomFilter{Rooms: []id.RoomID{"!x:a", room}}, true},
		{"rooms not listed", &mautrix.RoomFilter{Rooms: []id.RoomID{"!x:a"}}, false},
		{"rooms empty list", &mautrix.RoomFilter{Rooms: []id.RoomID{}}, false},
		{"not_rooms listed", &mautrix.RoomFilter{NotRooms: []id.RoomID{room}}, false},
		{"not_rooms other", &mautrix.RoomFilter{NotRooms: []id.RoomID{"!x:a"}}, true},
		{"not_rooms empty list", &mautrix.RoomFilter{NotRooms: []id.RoomID{}}, true},
		{"not_rooms wins", &mautrix.RoomFilter{Rooms: []id.RoomID{room}, NotRooms: []id.RoomID{room}}, false},
		{"case sensitive", &mautrix.RoomFilter{Rooms: []id.RoomID{"!ROOM:example.com"}}, false},
		{"part filters ignored", &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Rooms: []id.RoomID{}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := MatchRoom(tt.f, room); got != tt.want {
				t.Errorf("MatchRoom(%+v, %s) = %v, want %v", tt.f, room, got, tt.want)
			}
		})
	}
}

func TestTimelineLimit(t *testing.T) {
	t.Parallel()
	timeline := func(limit int) *mautrix.RoomFilter {
		return &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: limit}}
	}
	tests := []struct {
		name string
		f    *mautrix.RoomFilter
		def  int
		want int
	}{
		{"nil filter uses default", nil, 0, DefaultTimelineLimit},
		{"nil timeline uses default", &mautrix.RoomFilter{}, 0, DefaultTimelineLimit},
		{"unset limit uses default", timeline(0), 0, DefaultTimelineLimit},
		{"negative default uses default", nil, -3, DefaultTimelineLimit},
		{"caller default", nil, 20, 20},
		{"caller default capped", nil, 1000, MaxTimelineLimit},
		{"filter limit", timeline(5), 20, 5},
		{"filter limit one", timeline(1), 0, 1},
		{"filter limit at max", timeline(MaxTimelineLimit), 0, MaxTimelineLimit},
		{"filter limit capped", timeline(MaxTimelineLimit + 1), 0, MaxTimelineLimit},
		{"huge filter limit capped", timeline(1 << 40), 0, MaxTimelineLimit},
		{"state limit ignored", &mautrix.RoomFilter{State: &mautrix.FilterPart{Limit: 3}}, 0, DefaultTimelineLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := TimelineLimit(tt.f, tt.def); got != tt.want {
				t.Errorf("TimelineLimit(%+v, %d) = %d, want %d", tt.f, tt.def, got, tt.want)
			}
		})
	}
}

func TestMemberAndLeaveOptions(t *testing.T) {
	t.Parallel()
	type options struct{ LazyLoad, Redundant, Leave bool }
	ll := &mautrix.FilterPart{LazyLoadMembers: true}
	llRedundant := &mautrix.FilterPart{LazyLoadMembers: true, IncludeRedundantMembers: true}
	redundantOnly := &mautrix.FilterPart{IncludeRedundantMembers: true}
	tests := []struct {
		name string
		f    *mautrix.RoomFilter
		want options
	}{
		{"nil filter", nil, options{}},
		{"empty filter", &mautrix.RoomFilter{}, options{}},
		{"include_leave", &mautrix.RoomFilter{IncludeLeave: true}, options{Leave: true}},
		{"lazy load on state", &mautrix.RoomFilter{State: ll}, options{LazyLoad: true}},
		{"lazy load on timeline", &mautrix.RoomFilter{Timeline: ll}, options{LazyLoad: true}},
		{"lazy load on ephemeral ignored", &mautrix.RoomFilter{Ephemeral: ll}, options{}},
		{"redundant with lazy load", &mautrix.RoomFilter{State: llRedundant}, options{LazyLoad: true, Redundant: true}},
		{"redundant without lazy load", &mautrix.RoomFilter{State: redundantOnly}, options{}},
		{"redundant on other part than lazy load", &mautrix.RoomFilter{State: ll, Timeline: redundantOnly}, options{LazyLoad: true}},
		{"redundant on timeline", &mautrix.RoomFilter{Timeline: llRedundant, IncludeLeave: true}, options{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := options{LazyLoadMembers(tt.f), IncludeRedundantMembers(tt.f), IncludeLeave(tt.f)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options(%+v) mismatch (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}

func TestSplitPropertyPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{``, []string{""}},
		{`type`, []string{"type"}},
		{`content.body`, []string{"content", "body"}},
		{`content.m\.relates_to`, []string{"content", "m.relates_to"}},
		{`content.m\.relates_to.rel_type`, []string{"content", "m.relates_to", "rel_type"}},
		{`content.m\\foo`, []string{"content", `m\foo`}},
		{`content.m\\.foo`, []string{"content", `m\`, "foo"}},
		{`content.m\\\.foo`, []string{"content", `m\.foo`}},
		{`content.\x`, []string{"content", `\x`}},
		{`a\`, []string{`a\`}},
		{`a.`, []string{"a", ""}},
		{`.a`, []string{"", "a"}},
		{`a..b`, []string{"a", "", "b"}},
		{`\.`, []string{"."}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, splitPropertyPath(tt.in)); diff != "" {
				t.Errorf("splitPropertyPath(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestApplyEventFields(t *testing.T) {
	t.Parallel()
	const ev = `{"content":{"body":"hi","m.relates_to":{"rel_type":"m.thread","event_id":"$root"},` +
		`"m\\foo":1,"info":{"w":1,"h":2},"list":[{"a":1}]},"event_id":"$ev","origin_server_ts":1,` +
		`"room_id":"!r:a","sender":"@u:a","type":"m.room.message","unsigned":{"age":5,"transaction_id":"t"}}`
	tests := []struct {
		name   string
		event  string
		fields []string
		want   string
	}{
		{"nil fields keep everything", ev, nil, ev},
		{"empty fields keep everything", ev, []string{}, ev},
		{"top-level fields in event order", ev, []string{"type", "sender", "content"},
			`{"content":{"body":"hi","m.relates_to":{"rel_type":"m.thread","event_id":"$root"},"m\\foo":1,"info":{"w":1,"h":2},"list":[{"a":1}]},"sender":"@u:a","type":"m.room.message"}`},
		{"nested field", ev, []string{"content.body"}, `{"content":{"body":"hi"}}`},
		{"escaped dot", ev, []string{`content.m\.relates_to.rel_type`}, `{"content":{"m.relates_to":{"rel_type":"m.thread"}}}`},
		{"unescaped dot misses", ev, []string{`content.m.relates_to`}, `{}`},
		{"escaped backslash", ev, []string{`content.m\\foo`}, `{"content":{"m\\foo":1}}`},
		{"siblings merge", ev, []string{"content.info.h", "content.body", "unsigned.age", "type"},
			`{"content":{"body":"hi","info":{"h":2}},"type":"m.room.message","unsigned":{"age":5}}`},
		{"whole object wins over subpath", ev, []string{"unsigned.age", "unsigned"}, `{"unsigned":{"age":5,"transaction_id":"t"}}`},
		{"subpath after whole object", ev, []string{"unsigned", "unsigned.age"}, `{"unsigned":{"age":5,"transaction_id":"t"}}`},
		{"duplicate fields", ev, []string{"type", "type"}, `{"type":"m.room.message"}`},
		{"missing field", ev, []string{"state_key"}, `{}`},
		{"missing nested field drops parent", ev, []string{"content.url"}, `{}`},
		{"through a non-object", ev, []string{"type.x", "origin_server_ts.y"}, `{}`},
		{"no array indexing", ev, []string{"content.list.0"}, `{}`},
		{"array kept whole", ev, []string{"content.list"}, `{"content":{"list":[{"a":1}]}}`},
		{"empty path", ev, []string{""}, `{}`},
		{"empty key", `{"":1,"a":2}`, []string{""}, `{"":1}`},
		{"escaped key in event", `{"content":{"b\u006fdy":"x","other":1}}`, []string{"content.body"},
			`{"content":{"b\u006fdy":"x"}}`},
		{"whitespace in event", "{ \"type\" : \"m.x\" ,\n \"content\" : { \"body\" : [ 1 , 2 ] } }", []string{"content.body", "type"},
			`{"type":"m.x","content":{"body":[ 1 , 2 ]}}`},
		{"null value kept", `{"content":{"url":null}}`, []string{"content.url"}, `{"content":{"url":null}}`},
		{"empty object value kept when requested whole", `{"content":{}}`, []string{"content"}, `{"content":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ApplyEventFields([]byte(tt.event), tt.fields)
			if err != nil {
				t.Fatalf("ApplyEventFields(%q) error: %v", tt.fields, err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("ApplyEventFields(%q) mismatch (-want +got):\n%s", tt.fields, diff)
			}
		})
	}
}

func TestApplyEventFieldsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event string
	}{
		{"empty", ``},
		{"not JSON", `{"type":`},
		{"array", `[{"type":"m.x"}]`},
		{"string", `"type"`},
		{"null", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := ApplyEventFields([]byte(tt.event), []string{"type"}); err == nil {
				t.Errorf("ApplyEventFields(%s) = %s, want an error", tt.event, got)
			}
		})
	}
}
