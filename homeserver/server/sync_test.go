package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// TestSyncLongPoll checks that an incremental /sync waits for news and returns as soon as an
// event arrives, well before its timeout.
func TestSyncLongPoll(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		since := ts.sync(t, bob, url.Values{}).NextBatch

		t.Run("nothing new", func(t *testing.T) {
			start := time.Now()
			resp := ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"300"}})
			if elapsed := time.Since(start); elapsed < 250*time.Millisecond {
				t.Errorf("a sync with nothing new returned after %v, before its 300ms timeout", elapsed)
			}
			if len(resp.Rooms.Join)+len(resp.Rooms.Invite)+len(resp.Rooms.Leave) != 0 {
				t.Errorf("a sync with nothing new has rooms: %+v", resp.Rooms)
			}
			if resp.NextBatch == "" {
				t.Error("no next_batch")
			}
		})
		t.Run("woken by an event", func(t *testing.T) {
			type result struct {
				resp    *mautrix.RespSync
				elapsed time.Duration
			}
			done := make(chan result, 1)
			start := time.Now()
			go func() {
				resp, _ := longPoll(ts, bob, since)
				done <- result{resp, time.Since(start)}
			}()
			time.Sleep(200 * time.Millisecond)
			mustSend(t, alice, roomID, "wake up")
			select {
			case res := <-done:
				if res.elapsed > 20*time.Second {
					t.Errorf("the long poll returned after %v, not when the event arrived", res.elapsed)
				}
				jr := res.resp.Rooms.Join[roomID]
				if jr == nil || !slices.Contains(bodies(jr.Timeline.Events), "wake up") {
					t.Errorf("the long poll's answer lacks the message: %+v", res.resp.Rooms)
				}
			case <-time.After(40 * time.Second):
				t.Fatal("the long poll never returned")
			}
		})
		t.Run("woken by an invite", func(t *testing.T) {
			since := ts.sync(t, bob, url.Values{}).NextBatch
			private := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Invite only"})
			done := make(chan *mautrix.RespSync, 1)
			go func() {
				resp, _ := longPoll(ts, bob, since)
				done <- resp
			}()
			time.Sleep(200 * time.Millisecond)
			if _, err := alice.InviteUser(context.Background(), private, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
				t.Fatal(err)
			}
			select {
			case resp := <-done:
				if resp.Rooms.Invite[private] == nil {
					t.Errorf("the long poll's answer lacks the invite: %+v", resp.Rooms)
				}
			case <-time.After(40 * time.Second):
				t.Fatal("the long poll never returned")
			}
		})
	})
}

// longPoll runs an incremental /sync with a 30 s timeout, leaving presence alone (see
// testServer.sync). It reports failures instead of failing the test, since it runs on a
// goroutine of its own.
func longPoll(ts *testServer, cli *mautrix.Client, since string) (*mautrix.RespSync, error) {
	resp, err := cli.SyncRequest(context.Background(), 30000, since, "", false, event.PresenceOffline)
	if err != nil {
		return &mautrix.RespSync{}, err
	}
	return resp, nil
}

// TestSyncErrors covers the parameters /sync refuses.
func TestSyncErrors(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		tests := []struct {
			name    string
			query   url.Values
			status  int
			errcode string
		}{
			{"garbage since", url.Values{"since": {"garbage"}}, 400, "M_INVALID_PARAM"},
			{"negative since", url.Values{"since": {"s-1"}}, 400, "M_INVALID_PARAM"},
			{"since without a number", url.Values{"since": {"s"}}, 400, "M_INVALID_PARAM"},
			{"pagination token as since", url.Values{"since": {"t1_2"}}, 400, "M_INVALID_PARAM"},
			{"timeout not a number", url.Values{"timeout": {"soon"}}, 400, "M_INVALID_PARAM"},
			{"negative timeout", url.Values{"timeout": {"-5"}}, 400, "M_INVALID_PARAM"},
			{"unknown filter ID", url.Values{"filter": {"999"}}, 400, "M_INVALID_PARAM"},
			{"inline filter not JSON", url.Values{"filter": {"{nope"}}, 400, "M_NOT_JSON"},
			{"inline filter of the wrong shape", url.Values{"filter": {`{"room":{"timeline":{"limit":"ten"}}}`}}, 400, "M_BAD_JSON"},
			{"inline filter with a negative limit", url.Values{"filter": {`{"room":{"timeline":{"limit":-1}}}`}}, 400, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?"+tc.query.Encode(), alice.AccessToken, nil)
				wantError(t, r, tc.status, tc.errcode)
			})
		}
		// A since token from the future is no error: the server answers from where it is.
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?since=s999999&timeout=0", alice.AccessToken, nil))
	})
}

// TestSyncSections covers the rooms sections of /sync: full_state, invite_state and the leave
// section of an incremental sync (sync.yaml).
func TestSyncSections(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Party", Topic: "cake"})
		since := ts.sync(t, bob, url.Values{}).NextBatch

		t.Run("invite", func(t *testing.T) {
			if _, err := alice.InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
				t.Fatal(err)
			}
			for _, q := range []url.Values{{"since": {since}, "timeout": {"0"}}, {}} {
				resp := ts.sync(t, bob, q)
				ir := resp.Rooms.Invite[roomID]
				if ir == nil {
					t.Fatalf("sync %v has no invite: %+v", q, resp.Rooms)
				}
				byType := map[string]*event.Event{}
				for _, ev := range ir.State.Events {
					byType[ev.Type.Type] = ev
				}
				if ev := byType["m.room.name"]; ev == nil || ev.Content.Raw["name"] != "Party" {
					t.Errorf("invite_state has no room name: %+v", ir.State.Events)
				}
				for _, typ := range []string{"m.room.create", "m.room.join_rules", "m.room.topic"} {
					if byType[typ] == nil {
						t.Errorf("invite_state has no %s", typ)
					}
				}
				if ev := memberEvent(ir.State.Events, bob.UserID); ev == nil || ev.Content.Raw["membership"] != "invite" || ev.Sender != alice.UserID {
					t.Errorf("invite_state lacks bob's invite: %+v", ir.State.Events)
				}
				if byType["m.room.power_levels"] != nil {
					t.Error("invite_state holds the power levels, which stripped state leaves out")
				}
				if _, ok := resp.Rooms.Join[roomID]; ok {
					t.Error("the invited room is in the join section")
				}
			}
		})
		mustJoin(t, bob, string(roomID))
		mustSend(t, alice, roomID, "hello")
		since = ts.sync(t, bob, url.Values{}).NextBatch

		t.Run("full_state", func(t *testing.T) {
			resp := ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"0"}})
			if _, ok := resp.Rooms.Join[roomID]; ok {
				t.Fatal("an incremental sync with nothing new lists the room")
			}
			resp = ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"0"}, "full_state": {"true"}})
			jr := resp.Rooms.Join[roomID]
			if jr == nil {
				t.Fatalf("full_state sync lacks the room: %+v", resp.Rooms)
			}
			types := map[string]bool{}
			for _, ev := range jr.State.Events {
				types[ev.Type.Type] = true
			}
			for _, typ := range []string{"m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.name", "m.room.topic", "m.room.member"} {
				if !types[typ] {
					t.Errorf("full state lacks %s", typ)
				}
			}
			if len(jr.Timeline.Events) != 0 {
				t.Errorf("full_state timeline = %+v, want nothing since the token", jr.Timeline.Events)
			}
		})
		t.Run("leave", func(t *testing.T) {
			if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
				t.Fatal(err)
			}
			mustSend(t, alice, roomID, "after bob left")
			resp := ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"0"}})
			lr := resp.Rooms.Leave[roomID]
			if lr == nil {
				t.Fatalf("incremental sync lacks the leave: %+v", resp.Rooms)
			}
			if ev := memberEvent(lr.Timeline.Events, bob.UserID); ev == nil || ev.Content.Raw["membership"] != "leave" {
				t.Errorf("leave timeline lacks bob's leave: %+v", lr.Timeline.Events)
			}
			if slices.Contains(bodies(lr.Timeline.Events), "after bob left") {
				t.Error("the leave section shows an event sent after the leave")
			}
			if _, ok := resp.Rooms.Join[roomID]; ok {
				t.Error("the left room is still in the join section")
			}
			// The next incremental sync no longer mentions the room, and an initial sync only with include_leave.
			resp = ts.sync(t, bob, url.Values{"since": {resp.NextBatch}, "timeout": {"0"}})
			if _, ok := resp.Rooms.Leave[roomID]; ok {
				t.Error("the leave is repeated in the next incremental sync")
			}
			if _, ok := ts.sync(t, bob, url.Values{}).Rooms.Leave[roomID]; ok {
				t.Error("an initial sync without include_leave lists the left room")
			}
			if _, ok := ts.sync(t, bob, url.Values{"filter": {`{"room":{"include_leave":true}}`}}).Rooms.Leave[roomID]; !ok {
				t.Error("an initial sync with include_leave lacks the left room")
			}
		})
	})
}

// TestFilters covers uploading and reading filters (filter.yaml) and their refusals.
func TestFilters(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		filterPath := func(user id.UserID) string {
			return "/_matrix/client/v3/user/" + url.PathEscape(user.String()) + "/filter"
		}
		// Odd spacing, key order and an empty list: what is read back must be what was sent.
		const raw = `{ "room": {"timeline": {"limit": 2, "types": ["m.room.message"]}, "rooms": [],
			"state": {"lazy_load_members": true}}, "event_fields": ["type", "content.body"], "presence": {"not_types": ["*"]} }`
		r := ts.do(t, http.MethodPost, filterPath(alice.UserID), alice.AccessToken, rawBody(raw))
		wantOK(t, r)
		filterID, _ := r.object(t)["filter_id"].(string)
		if filterID == "" {
			t.Fatalf("upload answer = %s", r.Body)
		}
		r = ts.do(t, http.MethodGet, filterPath(alice.UserID)+"/"+filterID, alice.AccessToken, nil)
		wantOK(t, r)
		if string(r.Body) != raw {
			t.Errorf("filter read back = %s, want exactly %s", r.Body, raw)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}

		tests := []struct {
			name    string
			as      *mautrix.Client
			method  string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"upload for another user", bob, http.MethodPost, filterPath(alice.UserID), map[string]any{}, 403, "M_FORBIDDEN"},
			{"read another user's filter", bob, http.MethodGet, filterPath(alice.UserID) + "/" + filterID, nil, 403, "M_FORBIDDEN"},
			{"read a filter ID of another user as one's own", bob, http.MethodGet, filterPath(bob.UserID) + "/" + filterID, nil, 404, "M_NOT_FOUND"},
			{"unknown filter", alice, http.MethodGet, filterPath(alice.UserID) + "/999", nil, 404, "M_NOT_FOUND"},
			{"non-numeric filter ID", alice, http.MethodGet, filterPath(alice.UserID) + "/abc", nil, 404, "M_NOT_FOUND"},
			{"invalid user ID", alice, http.MethodPost, "/_matrix/client/v3/user/alice/filter", map[string]any{}, 400, "M_INVALID_PARAM"},
			{"not JSON", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":`), 400, "M_NOT_JSON"},
			{"not an object", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`["room"]`), 400, "M_BAD_JSON"},
			{"room of the wrong type", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":5}`), 400, "M_BAD_JSON"},
			{"types not a list", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":{"timeline":{"types":"m.room.message"}}}`), 400, "M_BAD_JSON"},
			{"null in types", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":{"timeline":{"types":[null]}}}`), 400, "M_BAD_JSON"},
			{"negative limit", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":{"timeline":{"limit":-1}}}`), 400, "M_INVALID_PARAM"},
			{"unknown event_format", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"event_format":"xml"}`), 400, "M_INVALID_PARAM"},
			{"room ID without sigil", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":{"rooms":["nope"]}}`), 400, "M_INVALID_PARAM"},
			{"sender without sigil", alice, http.MethodPost, filterPath(alice.UserID), rawBody(`{"room":{"timeline":{"senders":["bob"]}}}`), 400, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, tc.as.AccessToken, tc.body), tc.status, tc.errcode)
			})
		}
		// The refused uploads stored nothing: bob's first filter gets the first ID.
		r = ts.do(t, http.MethodPost, filterPath(bob.UserID), bob.AccessToken, map[string]any{})
		wantOK(t, r)
		if got := r.object(t)["filter_id"]; got != filterID {
			t.Errorf("bob's first filter ID = %v, want %s like alice's first", got, filterID)
		}
	})
}

// TestSyncFilters runs /sync with a stored filter and with inline ones: the timeline limit,
// types and not_types, and lazy-loading of members.
func TestSyncFilters(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		mustJoin(t, carol, string(roomID))
		mustSend(t, carol, roomID, "carol was here")
		if _, err := alice.SendStateEvent(ctx, roomID, event.StateTopic, "", map[string]any{"topic": "filters"}); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"one", "two", "three", "four"} {
			mustSend(t, alice, roomID, b)
		}
		created, err := bob.CreateFilter(ctx, &mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: 2}}})
		if err != nil {
			t.Fatal(err)
		}

		timelineTypes := func(jr *mautrix.SyncJoinedRoom) []string {
			var out []string
			for _, ev := range jr.Timeline.Events {
				out = append(out, ev.Type.Type)
			}
			return out
		}
		tests := []struct {
			name    string
			filter  string
			bodies  []string
			limited bool
			check   func(t *testing.T, jr *mautrix.SyncJoinedRoom)
		}{
			{name: "stored filter with limit 2", filter: created.FilterID, bodies: []string{"three", "four"}, limited: true},
			{name: "inline limit 3", filter: `{"room":{"timeline":{"limit":3}}}`, bodies: []string{"two", "three", "four"}, limited: true},
			{name: "inline types", filter: `{"room":{"timeline":{"limit":4,"types":["m.room.message"]}}}`, bodies: []string{"one", "two", "three", "four"}, limited: true,
				check: func(t *testing.T, jr *mautrix.SyncJoinedRoom) {
					for _, typ := range timelineTypes(jr) {
						if typ != "m.room.message" {
							t.Errorf("timeline holds a %s despite types", typ)
						}
					}
				}},
			{name: "inline not_types", filter: `{"room":{"timeline":{"limit":50,"not_types":["m.room.message","m.room.member"]}}}`, bodies: nil, limited: false,
				check: func(t *testing.T, jr *mautrix.SyncJoinedRoom) {
					types := timelineTypes(jr)
					if !slices.Contains(types, "m.room.topic") || !slices.Contains(types, "m.room.create") {
						t.Errorf("timeline types = %v, want the state events", types)
					}
				}},
			{name: "type wildcard", filter: `{"room":{"timeline":{"limit":50,"types":["m.room.t*"]}}}`, bodies: nil, limited: false,
				check: func(t *testing.T, jr *mautrix.SyncJoinedRoom) {
					if types := timelineTypes(jr); !slices.Equal(types, []string{"m.room.topic"}) {
						t.Errorf("timeline types = %v, want only m.room.topic", types)
					}
				}},
			{name: "not_senders", filter: `{"room":{"timeline":{"limit":50,"types":["m.room.message"],"not_senders":["@alice:localhost"]}}}`, bodies: []string{"carol was here"}, limited: false},
			{name: "state types", filter: `{"room":{"timeline":{"limit":1},"state":{"types":["m.room.topic"]}}}`, bodies: []string{"four"}, limited: true,
				check: func(t *testing.T, jr *mautrix.SyncJoinedRoom) {
					if len(jr.State.Events) != 1 || jr.State.Events[0].Type.Type != "m.room.topic" {
						t.Errorf("state = %+v, want only the topic", jr.State.Events)
					}
				}},
			{name: "room not in rooms", filter: `{"room":{"rooms":["!other:localhost"]}}`, check: nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := ts.sync(t, bob, url.Values{"filter": {tc.filter}})
				jr := resp.Rooms.Join[roomID]
				if tc.name == "room not in rooms" {
					if jr != nil {
						t.Error("a room outside the filter's rooms is in the sync")
					}
					return
				}
				if jr == nil {
					t.Fatalf("no joined room: %+v", resp.Rooms)
				}
				if got := bodies(jr.Timeline.Events); !slices.Equal(got, tc.bodies) {
					t.Errorf("timeline bodies = %q, want %q", got, tc.bodies)
				}
				if jr.Timeline.Limited != tc.limited {
					t.Errorf("limited = %v, want %v", jr.Timeline.Limited, tc.limited)
				}
				if tc.check != nil {
					tc.check(t, jr)
				}
			})
		}

		t.Run("lazy-loading members", func(t *testing.T) {
			const lazy = `{"room":{"timeline":{"limit":2},"state":{"lazy_load_members":true}}}`
			members := func(evs []*event.Event) []id.UserID {
				var out []id.UserID
				for _, ev := range evs {
					if ev.Type == event.StateMember {
						out = append(out, id.UserID(ev.GetStateKey()))
					}
				}
				slices.Sort(out)
				return out
			}
			resp := ts.sync(t, bob, url.Values{"filter": {lazy}})
			jr := resp.Rooms.Join[roomID]
			if jr == nil {
				t.Fatal("no joined room")
			}
			if got, want := members(jr.State.Events), []id.UserID{alice.UserID, bob.UserID}; !slices.Equal(got, want) {
				t.Errorf("lazy-loaded members = %v, want the sender and bob himself, %v", got, want)
			}
			full := ts.sync(t, bob, url.Values{"filter": {`{"room":{"timeline":{"limit":2}}}`}})
			if got := members(full.Rooms.Join[roomID].State.Events); len(got) != 3 {
				t.Errorf("members without lazy-loading = %v, want all three", got)
			}

			// Carol speaks again: the incremental sync must bring her member event, which the
			// lazy-loading client has never been sent.
			mustSend(t, carol, roomID, "me again")
			resp = ts.sync(t, bob, url.Values{"filter": {lazy}, "since": {resp.NextBatch}, "timeout": {"0"}})
			jr = resp.Rooms.Join[roomID]
			if jr == nil {
				t.Fatal("no joined room in the incremental sync")
			}
			if !slices.Contains(members(jr.State.Events), carol.UserID) && memberEvent(jr.Timeline.Events, carol.UserID) == nil {
				t.Errorf("incremental lazy-loaded sync lacks the member event of carol, who sent %q; state %+v", bodies(jr.Timeline.Events), jr.State.Events)
			}
		})
	})
}

// TestMessages covers GET /rooms/{roomId}/messages (message_pagination.yaml): directions,
// tokens, to, filters and refusals.
func TestMessages(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		for _, b := range []string{"m1", "m2", "m3"} {
			mustSend(t, alice, roomID, b)
		}
		mark := ts.sync(t, alice, url.Values{}).NextBatch
		for _, b := range []string{"m4", "m5"} {
			mustSend(t, bob, roomID, b)
		}
		if _, err := alice.SendStateEvent(ctx, roomID, event.StateTopic, "", map[string]any{"topic": "t"}); err != nil {
			t.Fatal(err)
		}
		mustSend(t, alice, roomID, "m6")

		tests := []struct {
			name  string
			query url.Values
			want  []string // message bodies in the order returned
		}{
			{"backwards from the end", url.Values{"dir": {"b"}, "limit": {"3"}}, []string{"m6", "m5"}},
			{"forwards from the start", url.Values{"dir": {"f"}, "limit": {"50"}}, []string{"m1", "m2", "m3", "m4", "m5", "m6"}},
			{"backwards to a sync token", url.Values{"dir": {"b"}, "to": {mark}, "limit": {"50"}}, []string{"m6", "m5", "m4"}},
			{"forwards from a sync token", url.Values{"dir": {"f"}, "from": {mark}, "limit": {"50"}}, []string{"m4", "m5", "m6"}},
			{"backwards from a sync token", url.Values{"dir": {"b"}, "from": {mark}, "limit": {"50"}}, []string{"m3", "m2", "m1"}},
			{"forwards to a sync token", url.Values{"dir": {"f"}, "to": {mark}, "limit": {"50"}}, []string{"m1", "m2", "m3"}},
			{"types filter", url.Values{"dir": {"b"}, "limit": {"50"}, "filter": {`{"types":["m.room.topic"]}`}}, nil},
			{"senders filter", url.Values{"dir": {"f"}, "limit": {"50"}, "filter": {`{"senders":["@bob:localhost"]}`}}, []string{"m4", "m5"}},
			{"not_senders filter", url.Values{"dir": {"f"}, "limit": {"50"}, "filter": {`{"types":["m.room.message"],"not_senders":["@bob:localhost"]}`}}, []string{"m1", "m2", "m3", "m6"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				page := ts.messages(t, alice, roomID, tc.query)
				if got := bodies(page.Chunk); !slices.Equal(got, tc.want) {
					t.Errorf("bodies = %q, want %q", got, tc.want)
				}
				if page.Start == "" {
					t.Error("no start token")
				}
				if f := tc.query.Get("filter"); f != "" {
					for _, ev := range page.Chunk {
						if (f == `{"types":["m.room.topic"]}` && ev.Type != event.StateTopic) ||
							(tc.name == "senders filter" && ev.Sender != bob.UserID) {
							t.Errorf("filtered page holds %s from %s", ev.Type.Type, ev.Sender)
						}
					}
				}
			})
		}

		t.Run("pages chain", func(t *testing.T) {
			var got []string
			q := url.Values{"dir": {"f"}, "limit": {"2"}}
			for range 50 {
				page := ts.messages(t, alice, roomID, q)
				got = append(got, bodies(page.Chunk)...)
				if page.End == "" {
					break
				}
				q.Set("from", page.End)
			}
			if want := []string{"m1", "m2", "m3", "m4", "m5", "m6"}; !slices.Equal(got, want) {
				t.Errorf("paging forwards two at a time = %q, want %q", got, want)
			}
		})
		t.Run("lazy-loaded members", func(t *testing.T) {
			page := ts.messages(t, alice, roomID, url.Values{"dir": {"b"}, "limit": {"2"}, "filter": {`{"lazy_load_members":true}`}})
			var members []string
			for _, ev := range page.State {
				members = append(members, ev.GetStateKey())
			}
			if !slices.Equal(members, []string{alice.UserID.String()}) {
				t.Errorf("state of a page of alice's events = %v, want alice's member event", members)
			}
		})

		errs := []struct {
			name    string
			query   url.Values
			errcode string
		}{
			{"no dir", url.Values{}, "M_INVALID_PARAM"},
			{"unknown dir", url.Values{"dir": {"up"}}, "M_INVALID_PARAM"},
			{"garbage from", url.Values{"dir": {"b"}, "from": {"garbage"}}, "M_INVALID_PARAM"},
			{"garbage to", url.Values{"dir": {"b"}, "to": {"garbage"}}, "M_INVALID_PARAM"},
			{"malformed pagination token", url.Values{"dir": {"b"}, "from": {"t1_x"}}, "M_INVALID_PARAM"},
			{"limit not a number", url.Values{"dir": {"b"}, "limit": {"ten"}}, "M_INVALID_PARAM"},
			{"negative limit", url.Values{"dir": {"b"}, "limit": {"-1"}}, "M_INVALID_PARAM"},
			{"filter not JSON", url.Values{"dir": {"b"}, "filter": {"{"}}, "M_NOT_JSON"},
			{"filter of the wrong shape", url.Values{"dir": {"b"}, "filter": {`{"types":"m.room.message"}`}}, "M_BAD_JSON"},
		}
		for _, tc := range errs {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, http.MethodGet, roomPath(roomID, "/messages?"+tc.query.Encode()), alice.AccessToken, nil)
				wantError(t, r, 400, tc.errcode)
			})
		}
	})
}

// TestHistoryVisibility checks what /messages, /sync and /event show a newcomer and a former
// member under each history visibility (content/client-server-api/modules/history_visibility.md).
func TestHistoryVisibility(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")

		tests := []struct {
			visibility string
			// what bob sees while joined, and after leaving
			joined, left []string
		}{
			{"shared", []string{"before", "invited", "during"}, []string{"before", "invited", "during"}},
			{"joined", []string{"during"}, []string{"during"}},
			{"invited", []string{"invited", "during"}, []string{"invited", "during"}},
			{"world_readable", []string{"before", "invited", "during"}, []string{"before", "invited", "during", "after"}},
		}
		for _, tc := range tests {
			t.Run(tc.visibility, func(t *testing.T) {
				roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
				if _, err := alice.SendStateEvent(ctx, roomID, event.StateHistoryVisibility, "", map[string]any{"history_visibility": tc.visibility}); err != nil {
					t.Fatal(err)
				}
				before := mustSend(t, alice, roomID, "before")
				if _, err := alice.InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
					t.Fatal(err)
				}
				mustSend(t, alice, roomID, "invited")
				mustJoin(t, bob, string(roomID))
				mustSend(t, alice, roomID, "during")

				wantBodies := func(label string, want []string) {
					t.Helper()
					if got := ts.allBodies(t, bob, roomID); !slices.Equal(got, want) {
						t.Errorf("%s: bob pages through %q, want %q", label, got, want)
					}
				}
				wantBodies("joined", tc.joined)
				resp := ts.sync(t, bob, url.Values{"filter": {`{"room":{"timeline":{"limit":50}}}`}})
				if got := bodies(resp.Rooms.Join[roomID].Timeline.Events); !slices.Equal(got, tc.joined) {
					t.Errorf("bob's initial sync timeline = %q, want %q", got, tc.joined)
				}
				r := ts.do(t, http.MethodGet, roomPath(roomID, "/event/"+url.PathEscape(string(before))), bob.AccessToken, nil)
				if slices.Contains(tc.joined, "before") {
					wantOK(t, r)
				} else {
					wantError(t, r, 404, "M_NOT_FOUND")
				}

				if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
					t.Fatal(err)
				}
				after := mustSend(t, alice, roomID, "after")
				wantBodies("left", tc.left)
				r = ts.do(t, http.MethodGet, roomPath(roomID, "/event/"+url.PathEscape(string(after))), bob.AccessToken, nil)
				if tc.visibility == "world_readable" {
					wantOK(t, r)
				} else {
					wantError(t, r, 404, "M_NOT_FOUND")
				}
			})
		}
	})
}
