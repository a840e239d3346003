package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

func visibilityPath(roomID id.RoomID) string {
	return "/_matrix/client/v3/directory/list/room/" + url.PathEscape(string(roomID))
}

// TestDirectoryVisibility covers GET and PUT /directory/list/room/{roomId}: anyone may read a
// room's visibility, and members who may set its canonical alias may change it.
func TestDirectoryVisibility(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		listed := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Visibility: "public"})
		const missing = id.RoomID("!nosuchroom:localhost")

		visibility := func(t *testing.T, roomID id.RoomID) string {
			t.Helper()
			r := ts.do(t, http.MethodGet, visibilityPath(roomID), "", nil)
			wantOK(t, r)
			var body struct {
				Visibility string `json:"visibility"`
			}
			r.decode(t, &body)
			return body.Visibility
		}
		if got := visibility(t, roomID); got != "private" {
			t.Errorf("a new room's visibility is %q, want private", got)
		}
		if got := visibility(t, listed); got != "public" {
			t.Errorf("visibility of a room created with visibility public is %q, want public", got)
		}

		steps := []struct {
			name    string
			as      *mautrix.Client
			method  string
			room    id.RoomID
			body    any
			status  int
			errcode string
			want    string // the visibility after the step, when it succeeds
		}{
			{"read an unknown room", nil, http.MethodGet, missing, nil, 404, "M_NOT_FOUND", ""},
			{"set an unknown room", alice, http.MethodPut, missing, map[string]any{"visibility": "public"}, 404, "M_NOT_FOUND", ""},
			{"set without a token", nil, http.MethodPut, roomID, map[string]any{"visibility": "public"}, 401, "M_MISSING_TOKEN", ""},
			{"set by a non-member", carol, http.MethodPut, roomID, map[string]any{"visibility": "public"}, 403, "M_FORBIDDEN", ""},
			{"set by a member without power", bob, http.MethodPut, roomID, map[string]any{"visibility": "public"}, 403, "M_FORBIDDEN", ""},
			{"invalid visibility", alice, http.MethodPut, roomID, map[string]any{"visibility": "secret"}, 400, "M_INVALID_PARAM", ""},
			{"visibility of the wrong type", alice, http.MethodPut, roomID, map[string]any{"visibility": true}, 400, "M_BAD_JSON", ""},
			{"publish", alice, http.MethodPut, roomID, map[string]any{"visibility": "public"}, 200, "", "public"},
			{"publish again", alice, http.MethodPut, roomID, map[string]any{"visibility": "public"}, 200, "", "public"},
			{"unpublish", alice, http.MethodPut, roomID, map[string]any{"visibility": "private"}, 200, "", "private"},
			{"visibility defaults to public", alice, http.MethodPut, roomID, map[string]any{}, 200, "", "public"},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				token := ""
				if st.as != nil {
					token = st.as.AccessToken
				}
				r := ts.do(t, st.method, visibilityPath(st.room), token, st.body)
				if st.status != 200 {
					wantError(t, r, st.status, st.errcode)
					return
				}
				wantOK(t, r)
				if got := visibility(t, st.room); got != st.want {
					t.Errorf("visibility is %q, want %q", got, st.want)
				}
			})
		}

		// Power to send m.room.canonical_alias is what it takes.
		var pl event.PowerLevelsEventContent
		if err := alice.StateEvent(ctx, roomID, event.StatePowerLevels, "", &pl); err != nil {
			t.Fatal(err)
		}
		pl.Users[bob.UserID] = pl.GetEventLevel(event.StateCanonicalAlias)
		if _, err := alice.SendStateEvent(ctx, roomID, event.StatePowerLevels, "", &pl); err != nil {
			t.Fatal(err)
		}
		wantOK(t, ts.do(t, http.MethodPut, visibilityPath(roomID), bob.AccessToken, map[string]any{"visibility": "private"}))
		if got := visibility(t, roomID); got != "private" {
			t.Errorf("after bob, with the power, unpublished: %q, want private", got)
		}
		// Leaving the room takes the right away with the membership.
		if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		wantError(t, ts.do(t, http.MethodPut, visibilityPath(roomID), bob.AccessToken, map[string]any{"visibility": "public"}), 403, "M_FORBIDDEN")

		// A server admin may, without being in the room (as in Synapse).
		root := ts.registerAdmin(t, "root")
		wantOK(t, ts.do(t, http.MethodPut, visibilityPath(roomID), root.AccessToken, map[string]any{"visibility": "public"}))
		if got := visibility(t, roomID); got != "public" {
			t.Errorf("after the admin published: %q, want public", got)
		}
	})
}

// directoryIDs lists the room IDs of a directory page.
func directoryIDs(chunk []*mautrix.PublicRoomInfo) []id.RoomID {
	out := make([]id.RoomID, len(chunk))
	for i, r := range chunk {
		out[i] = r.RoomID
	}
	return out
}

// queryPublicRooms runs POST /publicRooms as cli.
func queryPublicRooms(t *testing.T, cli *mautrix.Client, body map[string]any) *mautrix.RespPublicRooms {
	t.Helper()
	var resp mautrix.RespPublicRooms
	if _, err := cli.MakeRequest(context.Background(), http.MethodPost, cli.BuildClientURL("v3", "publicRooms"), body, &resp); err != nil {
		t.Fatalf("POST /publicRooms %v: %v", body, err)
	}
	return &resp
}

// walkDirectory pages through a whole listing forward with the given page size, checks the
// tokens of every page, then pages back from the last page with prev_batch and checks that it
// meets the same rooms. It returns the rooms in order.
func walkDirectory(t *testing.T, page func(since string) *mautrix.RespPublicRooms) []id.RoomID {
	t.Helper()
	var forward []id.RoomID
	var last *mautrix.RespPublicRooms
	since := ""
	for i := 0; ; i++ {
		if i > 50 {
			t.Fatal("forward pagination does not end")
		}
		resp := page(since)
		if (i == 0) != (resp.PrevBatch == "") {
			t.Errorf("page %d has prev_batch %q", i, resp.PrevBatch)
		}
		forward = append(forward, directoryIDs(resp.Chunk)...)
		last = resp
		if resp.NextBatch == "" {
			break
		}
		since = resp.NextBatch
	}
	backward := directoryIDs(last.Chunk)
	for i, resp := 0, last; resp.PrevBatch != ""; i++ {
		if i > 50 {
			t.Fatal("backward pagination does not end")
		}
		resp = page(resp.PrevBatch)
		if resp.NextBatch == "" {
			t.Errorf("a page reached backward has no next_batch")
		}
		backward = append(directoryIDs(resp.Chunk), backward...)
	}
	if diff := cmp.Diff(forward, backward); diff != "" {
		t.Errorf("paging backward met other rooms than paging forward (-forward +backward):\n%s", diff)
	}
	return forward
}

// TestPublicRooms lists the server's directory with GET and POST /publicRooms: entries read
// from current state, the order, pagination in both directions, filters and errors.
func TestPublicRooms(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")

		alpha := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Visibility: "public", Preset: "public_chat",
			Name: "Alpha Lounge", Topic: "Coffee and chatter", RoomAliasName: "alpha"})
		mustJoin(t, bob, string(alpha))
		mustJoin(t, carol, string(alpha))
		space := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Visibility: "public", Preset: "public_chat",
			Name: "Beta Space", CreationContent: map[string]any{"type": "m.space"}})
		mustJoin(t, bob, string(space))
		gamma := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Visibility: "public", Preset: "public_chat", Name: "Gamma",
			InitialState: []*event.Event{
				{Type: event.StateGuestAccess, Content: event.Content{Raw: map[string]any{"guest_access": "can_join"}}},
				{Type: event.StateHistoryVisibility, Content: event.Content{Raw: map[string]any{"history_visibility": "world_readable"}}},
				{Type: event.StateRoomAvatar, Content: event.Content{Raw: map[string]any{"url": "mxc://localhost/gamma"}}},
			}})
		delta := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Visibility: "public", Preset: "private_chat", Name: "delta", Topic: "Quiet corner"})
		hidden := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat", Name: "Alpha Hidden"})
		mustJoin(t, bob, string(hidden))

		// Most members first; rooms with as many members by room ID, in the database's order.
		all, err := alice.PublicRooms(ctx, &mautrix.ReqPublicRooms{})
		if err != nil {
			t.Fatal(err)
		}
		got := directoryIDs(all.Chunk)
		if len(got) != 4 || got[0] != alpha || got[1] != space || !slices.Contains(got[2:], gamma) || !slices.Contains(got[2:], delta) {
			t.Fatalf("directory lists %v, want %v, %v, then %v and %v", got, alpha, space, gamma, delta)
		}
		if all.TotalRoomCountEstimate != 4 || all.NextBatch != "" || all.PrevBatch != "" {
			t.Errorf("total %d, next_batch %q, prev_batch %q; want 4 and no tokens", all.TotalRoomCountEstimate, all.NextBatch, all.PrevBatch)
		}
		byID := map[id.RoomID]*mautrix.PublicRoomInfo{}
		for _, r := range all.Chunk {
			byID[r.RoomID] = r
		}
		wantEntries := []mautrix.PublicRoomInfo{
			{RoomID: alpha, Name: "Alpha Lounge", Topic: "Coffee and chatter", CanonicalAlias: "#alpha:localhost",
				NumJoinedMembers: 3, JoinRule: event.JoinRulePublic},
			{RoomID: space, Name: "Beta Space", NumJoinedMembers: 2, JoinRule: event.JoinRulePublic, RoomType: event.RoomTypeSpace},
			{RoomID: gamma, Name: "Gamma", NumJoinedMembers: 1, JoinRule: event.JoinRulePublic, WorldReadable: true,
				GuestCanJoin: true, AvatarURL: "mxc://localhost/gamma"},
			// The private_chat preset lets guests join (data/api/client-server/create_room.yaml).
			{RoomID: delta, Name: "delta", Topic: "Quiet corner", NumJoinedMembers: 1, JoinRule: event.JoinRuleInvite, GuestCanJoin: true},
		}
		for _, want := range wantEntries {
			if diff := cmp.Diff(&want, byID[want.RoomID]); diff != "" {
				t.Errorf("entry of %s (-want +got):\n%s", want.Name, diff)
			}
		}

		// No token is needed to read the directory, and keys without a value are left out.
		r := ts.do(t, http.MethodGet, "/_matrix/client/v3/publicRooms", "", nil)
		wantOK(t, r)
		var raw struct {
			Chunk []map[string]any `json:"chunk"`
		}
		r.decode(t, &raw)
		for _, entry := range raw.Chunk {
			if entry["room_id"] == string(gamma) {
				for _, key := range []string{"room_type", "topic", "canonical_alias"} {
					if v, ok := entry[key]; ok {
						t.Errorf("gamma's entry has %s %v, want none", key, v)
					}
				}
			}
		}

		t.Run("pagination", func(t *testing.T) {
			for _, limit := range []int{1, 2, 3, 4, 5} {
				walked := walkDirectory(t, func(since string) *mautrix.RespPublicRooms {
					resp, err := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: limit, Since: since})
					if err != nil {
						t.Fatalf("limit %d since %q: %v", limit, since, err)
					}
					if len(resp.Chunk) > limit {
						t.Errorf("limit %d gave %d rooms", limit, len(resp.Chunk))
					}
					return resp
				})
				if diff := cmp.Diff(got, walked); diff != "" {
					t.Errorf("pages of %d (-all +paged):\n%s", limit, diff)
				}
			}
			// A token is stable: asking again gives the same page.
			first, _ := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 2})
			a, _ := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 2, Since: first.NextBatch})
			b, _ := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 2, Since: first.NextBatch})
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("the same token gave different pages (-first +second):\n%s", diff)
			}
		})

		t.Run("filters", func(t *testing.T) {
			tests := []struct {
				name string
				body map[string]any
				want []id.RoomID
			}{
				{"no filter", map[string]any{}, got},
				{"name, ignoring case", map[string]any{"filter": map[string]any{"generic_search_term": "ALPHA lou"}}, []id.RoomID{alpha}},
				{"topic", map[string]any{"filter": map[string]any{"generic_search_term": "quiet"}}, []id.RoomID{delta}},
				{"canonical alias", map[string]any{"filter": map[string]any{"generic_search_term": "#alpha:local"}}, []id.RoomID{alpha}},
				{"no match", map[string]any{"filter": map[string]any{"generic_search_term": "zebra"}}, nil},
				{"rooms without a type", map[string]any{"filter": map[string]any{"room_types": []any{nil}}}, slices.DeleteFunc(slices.Clone(got), func(r id.RoomID) bool { return r == space })},
				{"spaces", map[string]any{"filter": map[string]any{"room_types": []any{"m.space"}}}, []id.RoomID{space}},
				{"both", map[string]any{"filter": map[string]any{"room_types": []any{nil, "m.space"}}}, got},
				{"type and term", map[string]any{"filter": map[string]any{"room_types": []any{nil}, "generic_search_term": "a"}}, slices.DeleteFunc(slices.Clone(got), func(r id.RoomID) bool { return r == space })},
				{"null filter", map[string]any{"filter": nil}, got},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					resp := queryPublicRooms(t, alice, tc.body)
					if diff := cmp.Diff(tc.want, directoryIDs(resp.Chunk), cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("(-want +got):\n%s", diff)
					}
					if resp.TotalRoomCountEstimate != 4 {
						t.Errorf("total_room_count_estimate %d, want 4", resp.TotalRoomCountEstimate)
					}
				})
			}
			// Filtered pages page like unfiltered ones: every room name holds an "a".
			walked := walkDirectory(t, func(since string) *mautrix.RespPublicRooms {
				return queryPublicRooms(t, alice, map[string]any{"limit": 1, "since": since, "filter": map[string]any{"generic_search_term": "A"}})
			})
			if diff := cmp.Diff(got, walked); diff != "" {
				t.Errorf("filtered pages (-all +paged):\n%s", diff)
			}
		})

		t.Run("errors", func(t *testing.T) {
			tests := []struct {
				name    string
				method  string
				path    string
				token   string
				body    any
				status  int
				errcode string
			}{
				{"this server by name", http.MethodGet, "?server=localhost", "", nil, 200, ""},
				{"another server", http.MethodGet, "?server=elsewhere.example", "", nil, 404, "M_NOT_FOUND"},
				{"another server, POST", http.MethodPost, "?server=elsewhere.example", alice.AccessToken, map[string]any{}, 404, "M_NOT_FOUND"},
				{"bad since", http.MethodGet, "?since=garbage", "", nil, 400, "M_INVALID_PARAM"},
				{"bad limit", http.MethodGet, "?limit=many", "", nil, 400, "M_INVALID_PARAM"},
				{"negative limit", http.MethodGet, "?limit=-1", "", nil, 400, "M_INVALID_PARAM"},
				{"POST without a token", http.MethodPost, "", "", map[string]any{}, 401, "M_MISSING_TOKEN"},
				{"POST without a body", http.MethodPost, "", alice.AccessToken, nil, 400, "M_NOT_JSON"},
				{"all networks and one network", http.MethodPost, "", alice.AccessToken,
					map[string]any{"include_all_networks": true, "third_party_instance_id": "bridge|net"}, 400, "M_INVALID_PARAM"},
				{"not an instance ID", http.MethodPost, "", alice.AccessToken, map[string]any{"third_party_instance_id": "irc"}, 400, "M_INVALID_PARAM"},
				{"search term of the wrong type", http.MethodPost, "", alice.AccessToken, map[string]any{"filter": map[string]any{"generic_search_term": 7}}, 400, "M_BAD_JSON"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r := ts.do(t, tc.method, "/_matrix/client/v3/publicRooms"+tc.path, tc.token, tc.body)
					if tc.status == 200 {
						wantOK(t, r)
						return
					}
					wantError(t, r, tc.status, tc.errcode)
				})
			}
		})

		// Entries follow the current state: a redacted name goes, and so does an unpublished room.
		state, err := alice.State(ctx, gamma)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.RedactEvent(ctx, gamma, state[event.StateRoomName][""].ID); err != nil {
			t.Fatal(err)
		}
		wantOK(t, ts.do(t, http.MethodPut, visibilityPath(alpha), alice.AccessToken, map[string]any{"visibility": "private"}))
		after, err := alice.PublicRooms(ctx, &mautrix.ReqPublicRooms{})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(directoryIDs(after.Chunk), alpha) || after.TotalRoomCountEstimate != 3 {
			t.Errorf("after unpublishing alpha the directory lists %v (total %d)", directoryIDs(after.Chunk), after.TotalRoomCountEstimate)
		}
		for _, r := range after.Chunk {
			if r.RoomID == gamma && r.Name != "" {
				t.Errorf("gamma's redacted name is still listed as %q", r.Name)
			}
		}

		// A token stays usable when the rooms past it go: the page is empty, and prev_batch
		// leads back to the rooms before it.
		first, err := alice.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 1})
		if err != nil || first.NextBatch == "" || len(first.Chunk) != 1 {
			t.Fatalf("first page of one: %+v, %v", first, err)
		}
		for _, r := range after.Chunk[1:] {
			wantOK(t, ts.do(t, http.MethodPut, visibilityPath(r.RoomID), alice.AccessToken, map[string]any{"visibility": "private"}))
		}
		empty, err := alice.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 1, Since: first.NextBatch})
		if err != nil || len(empty.Chunk) != 0 || empty.NextBatch != "" || empty.PrevBatch == "" {
			t.Fatalf("page past the last room: %+v, %v; want no rooms, no next_batch, a prev_batch", empty, err)
		}
		back, err := alice.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 1, Since: empty.PrevBatch})
		if err != nil || !slices.Equal(directoryIDs(back.Chunk), directoryIDs(first.Chunk)) || back.PrevBatch != "" || back.NextBatch != "" {
			t.Errorf("back from the empty page: %+v, %v; want %v and no tokens: it is the whole list", back, err, directoryIDs(first.Chunk))
		}
	})
}
