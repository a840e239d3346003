package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

func TestEventContext(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		var msgs []id.EventID
		for i := 1; i <= 9; i++ {
			msgs = append(msgs, mustSend(t, alice, roomID, fmt.Sprintf("m%d", i)))
		}

		resp, err := bob.Context(ctx, roomID, msgs[4], nil, 4)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Event.ID != msgs[4] || !slices.Equal(bodies(resp.EventsBefore), []string{"m4", "m3"}) || !slices.Equal(bodies(resp.EventsAfter), []string{"m6", "m7"}) {
			t.Errorf("context of m5 with limit 4: before %v, event %s, after %v", bodies(resp.EventsBefore), resp.Event.ID, bodies(resp.EventsAfter))
		}
		if memberEvent(resp.State, bob.UserID) == nil || memberEvent(resp.State, alice.UserID) == nil || !hasType(resp.State, event.StateCreate) {
			t.Errorf("state at the last event lacks the create event or a member: %d events", len(resp.State))
		}
		older, err := bob.Messages(ctx, roomID, resp.Start, "", mautrix.DirectionBackward, nil, 2)
		if err != nil || !slices.Equal(bodies(older.Chunk), []string{"m2", "m1"}) {
			t.Errorf("paging back from start: %v, %v; want m2 m1", bodies(older.Chunk), err)
		}
		newer, err := bob.Messages(ctx, roomID, resp.End, "", mautrix.DirectionForward, nil, 10)
		if err != nil || !slices.Equal(bodies(newer.Chunk), []string{"m8", "m9"}) {
			t.Errorf("paging on from end: %v, %v; want m8 m9", bodies(newer.Chunk), err)
		}

		// limit=0 gives the event alone; lazy loading keeps the senders' members only.
		r := ts.do(t, http.MethodGet, roomPath(roomID, "/context/"+string(msgs[0])+"?limit=0"), bob.AccessToken, nil)
		wantOK(t, r)
		var alone mautrix.RespContext
		r.decode(t, &alone)
		if alone.Event == nil || alone.Event.ID != msgs[0] || len(alone.EventsBefore)+len(alone.EventsAfter) != 0 {
			t.Errorf("limit 0: %d before, %d after", len(alone.EventsBefore), len(alone.EventsAfter))
		}
		lazy, err := bob.Context(ctx, roomID, msgs[8], &mautrix.FilterPart{LazyLoadMembers: true}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if memberEvent(lazy.State, bob.UserID) != nil || memberEvent(lazy.State, alice.UserID) == nil {
			t.Errorf("lazy-loaded state: want alice's member event (the sender) and not bob's")
		}
		typed, err := bob.Context(ctx, roomID, msgs[4], &mautrix.FilterPart{NotTypes: []event.Type{event.EventMessage}}, 4)
		if err != nil || len(typed.EventsBefore)+len(typed.EventsAfter) != 0 || typed.Event.ID != msgs[4] {
			t.Errorf("a filter without messages: %d before, %d after, %v; want none and the event itself", len(typed.EventsBefore), len(typed.EventsAfter), err)
		}

		private := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		secret := mustSend(t, alice, private, "secret")
		tests := []struct {
			name, path string
			status     int
			errcode    string
		}{
			{"an event of a room the user is not in", roomPath(private, "/context/"+string(secret)), http.StatusNotFound, "M_NOT_FOUND"},
			{"an unknown event", roomPath(roomID, "/context/$nothing"), http.StatusNotFound, "M_NOT_FOUND"},
			{"an event of another room", roomPath(roomID, "/context/"+string(secret)), http.StatusNotFound, "M_NOT_FOUND"},
			{"a negative limit", roomPath(roomID, "/context/"+string(msgs[0])+"?limit=-1"), http.StatusBadRequest, "M_INVALID_PARAM"},
			{"a malformed filter", roomPath(roomID, "/context/"+string(msgs[0])+"?filter=%7B"), http.StatusBadRequest, "M_NOT_JSON"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodGet, tc.path, carol.AccessToken, nil), tc.status, tc.errcode)
			})
		}
	})
}

// hasType reports whether one of evs is of type typ.
func hasType(evs []*event.Event, typ event.Type) bool {
	return slices.ContainsFunc(evs, func(ev *event.Event) bool { return ev.Type == typ })
}

func TestTimestampToEvent(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		var sent []*event.Event
		for i := range 3 {
			evID := mustSend(t, alice, roomID, fmt.Sprintf("m%d", i))
			ev, err := alice.GetEvent(ctx, roomID, evID)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, ev)
			time.Sleep(5 * time.Millisecond) // distinct timestamps
		}
		at := func(ev *event.Event, delta int64) time.Time { return time.UnixMilli(ev.Timestamp + delta) }
		for _, tc := range []struct {
			name string
			ts   time.Time
			dir  mautrix.Direction
			want id.EventID
		}{
			{"exactly, forwards", at(sent[1], 0), mautrix.DirectionForward, sent[1].ID},
			{"exactly, backwards", at(sent[1], 0), mautrix.DirectionBackward, sent[1].ID},
			{"just after, forwards", at(sent[1], 1), mautrix.DirectionForward, sent[2].ID},
			{"just before, backwards", at(sent[1], -1), mautrix.DirectionBackward, sent[0].ID},
			{"long after, backwards", at(sent[2], 3_600_000), mautrix.DirectionBackward, sent[2].ID},
		} {
			got, err := alice.TimestampToEvent(ctx, roomID, tc.ts, tc.dir)
			if err != nil || got.EventID != tc.want {
				t.Errorf("%s: %+v, %v; want %s", tc.name, got, err, tc.want)
			}
		}
		path := func(query string) string {
			return "/_matrix/client/v1/rooms/" + url.PathEscape(string(roomID)) + "/timestamp_to_event?" + query
		}
		later := strconv.FormatInt(sent[2].Timestamp+3_600_000, 10)
		for _, tc := range []struct {
			name, query, token string
			status             int
			errcode            string
		}{
			{"nothing that late", "dir=f&ts=" + later, alice.AccessToken, http.StatusNotFound, "M_NOT_FOUND"},
			{"nothing that early", "dir=b&ts=0", alice.AccessToken, http.StatusNotFound, "M_NOT_FOUND"},
			{"no dir", "ts=" + later, alice.AccessToken, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"no ts", "dir=f", alice.AccessToken, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"not a member", "dir=b&ts=" + later, bob.AccessToken, http.StatusForbidden, "M_FORBIDDEN"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodGet, path(tc.query), tc.token, nil), tc.status, tc.errcode)
			})
		}
	})
}

func TestRoomInitialSync(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat", Name: "Lobby"})
		mustJoin(t, bob, string(roomID))
		for i := 1; i <= 25; i++ {
			mustSend(t, alice, roomID, fmt.Sprintf("m%d", i))
		}
		if err := bob.AddTag(ctx, roomID, event.RoomTagFavourite, 0.5); err != nil {
			t.Fatal(err)
		}
		var got struct {
			RoomID     id.RoomID `json:"room_id"`
			Membership string    `json:"membership"`
			Messages   struct {
				Start string         `json:"start"`
				End   string         `json:"end"`
				Chunk []*event.Event `json:"chunk"`
			} `json:"messages"`
			State       []*event.Event   `json:"state"`
			Visibility  string           `json:"visibility"`
			AccountData []map[string]any `json:"account_data"`
		}
		r := ts.do(t, http.MethodGet, roomPath(roomID, "/initialSync"), bob.AccessToken, nil)
		wantOK(t, r)
		r.decode(t, &got)
		msgs := bodies(got.Messages.Chunk)
		if got.RoomID != roomID || got.Membership != "join" || len(msgs) != 20 || msgs[0] != "m6" || msgs[19] != "m25" || got.Visibility != "private" {
			t.Errorf("initialSync: room %s, membership %q, messages %v, visibility %q", got.RoomID, got.Membership, msgs, got.Visibility)
		}
		if !hasType(got.State, event.StateCreate) || memberEvent(got.State, bob.UserID) == nil || len(got.AccountData) != 1 || got.AccountData[0]["type"] != "m.tag" {
			t.Errorf("initialSync state has %d events, account data %v", len(got.State), got.AccountData)
		}
		older, err := bob.Messages(ctx, roomID, got.Messages.Start, "", mautrix.DirectionBackward, nil, 5)
		if err != nil || !slices.Equal(bodies(older.Chunk), []string{"m5", "m4", "m3", "m2", "m1"}) {
			t.Errorf("paging back from start: %v, %v", bodies(older.Chunk), err)
		}
		wantError(t, ts.do(t, http.MethodGet, roomPath(roomID, "/initialSync"), carol.AccessToken, nil), http.StatusForbidden, "M_FORBIDDEN")
	})
}

// TestPeekEvents: a user who is not in a world-readable room follows it with /events?room_id.
func TestPeekEvents(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		carol := ts.register(t, "carol")
		open := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat",
			InitialState: []*event.Event{{Type: event.StateHistoryVisibility, StateKey: new(string), Content: event.Content{Raw: map[string]any{"history_visibility": "world_readable"}}}}})
		closed := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		peek := func(roomID id.RoomID, query string) apiResponse {
			return ts.do(t, http.MethodGet, "/_matrix/client/v3/events?room_id="+url.QueryEscape(string(roomID))+query, carol.AccessToken, nil)
		}
		type page struct {
			Start string         `json:"start"`
			End   string         `json:"end"`
			Chunk []*event.Event `json:"chunk"`
		}
		r := peek(open, "&timeout=0")
		wantOK(t, r)
		var first page
		r.decode(t, &first)
		if len(first.Chunk) != 0 || first.End == "" {
			t.Fatalf("the first peek = %+v, want no events and an end token", first)
		}

		// A waiting peek wakes with the next message.
		done := make(chan page, 1)
		go func() {
			var p page
			resp := peek(open, "&timeout=20000&from="+url.QueryEscape(first.End))
			if resp.Status == http.StatusOK {
				resp.decode(t, &p)
			}
			done <- p
		}()
		time.Sleep(200 * time.Millisecond)
		mustSend(t, alice, open, "hello peekers")
		select {
		case p := <-done:
			if got := bodies(p.Chunk); !slices.Equal(got, []string{"hello peekers"}) {
				t.Errorf("the waiting peek got %v", got)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the peek never returned")
		}
		wantError(t, peek(closed, ""), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, peek(open, "&from=garbage"), http.StatusBadRequest, "M_INVALID_PARAM")
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/events", carol.AccessToken, nil), http.StatusBadRequest, "M_MISSING_PARAM")
	})
}
