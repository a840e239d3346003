package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// hierarchyPage is one answer of /hierarchy, as far as the test reads it.
type hierarchyPage struct {
	Rooms []struct {
		RoomID        id.RoomID `json:"room_id"`
		Name          string    `json:"name"`
		RoomType      string    `json:"room_type"`
		JoinedMembers int       `json:"num_joined_members"`
		ChildrenState []struct {
			StateKey       string `json:"state_key"`
			OriginServerTS int64  `json:"origin_server_ts"`
		} `json:"children_state"`
	} `json:"rooms"`
	NextBatch string `json:"next_batch"`
}

func TestSpaceHierarchy(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		room := func(name, preset string, space bool) id.RoomID {
			req := &mautrix.ReqCreateRoom{Name: name, Preset: preset}
			if space {
				req.CreationContent = map[string]any{"type": "m.space"}
			}
			return mustCreateRoom(t, alice, req)
		}
		space := room("Space", "public_chat", true)
		public := room("Public", "public_chat", false)
		private := room("Private", "private_chat", false)
		sub := room("Subspace", "public_chat", true)
		deep := room("Deep", "public_chat", false)
		child := func(parent, child id.RoomID, content map[string]any) {
			t.Helper()
			if _, err := alice.SendStateEvent(ctx, parent, event.StateSpaceChild, string(child), content); err != nil {
				t.Fatal(err)
			}
		}
		via := []string{"localhost"}
		child(space, public, map[string]any{"via": via, "order": "b"})
		child(space, private, map[string]any{"via": via, "order": "a"})
		child(space, sub, map[string]any{"via": via, "suggested": true})
		child(space, "!elsewhere:example.org", map[string]any{"via": []string{"example.org"}})
		child(space, "!removed:localhost", map[string]any{})
		child(sub, deep, map[string]any{"via": via, "suggested": true})

		get := func(cli *mautrix.Client, query url.Values) hierarchyPage {
			t.Helper()
			r := ts.do(t, http.MethodGet, "/_matrix/client/v1/rooms/"+url.PathEscape(string(space))+"/hierarchy?"+query.Encode(), cli.AccessToken, nil)
			wantOK(t, r)
			var p hierarchyPage
			r.decode(t, &p)
			return p
		}
		ids := func(p hierarchyPage) []id.RoomID {
			var out []id.RoomID
			for _, r := range p.Rooms {
				out = append(out, r.RoomID)
			}
			return out
		}

		all := get(alice, url.Values{})
		if want := []id.RoomID{space, private, public, sub, deep}; !slices.Equal(ids(all), want) {
			t.Errorf("alice's hierarchy = %v, want %v (depth first, ordered children first)", ids(all), want)
		}
		root := all.Rooms[0]
		var children []string
		for _, c := range root.ChildrenState {
			children = append(children, c.StateKey)
		}
		if want := []string{string(private), string(public), string(sub), "!elsewhere:example.org"}; !slices.Equal(children, want) || root.RoomType != "m.space" || root.Name != "Space" || root.JoinedMembers != 1 {
			t.Errorf("the root: type %q, name %q, %d members, children %v; want m.space, Space, 1, %v", root.RoomType, root.Name, root.JoinedMembers, children, want)
		}
		if got := ids(get(bob, url.Values{})); !slices.Equal(got, []id.RoomID{space, public, sub, deep}) {
			t.Errorf("bob's hierarchy = %v, want the private room left out", got)
		}
		if got := ids(get(alice, url.Values{"max_depth": {"1"}})); !slices.Equal(got, []id.RoomID{space, private, public, sub}) {
			t.Errorf("max_depth 1 = %v", got)
		}
		if got := ids(get(alice, url.Values{"suggested_only": {"true"}})); !slices.Equal(got, []id.RoomID{space, sub, deep}) {
			t.Errorf("suggested_only = %v", got)
		}

		var paged []id.RoomID
		query := url.Values{"limit": {"2"}}
		for range 5 {
			p := get(alice, query)
			paged = append(paged, ids(p)...)
			if p.NextBatch == "" {
				break
			}
			query.Set("from", p.NextBatch)
		}
		if !slices.Equal(paged, ids(all)) {
			t.Errorf("pages of 2 = %v, want %v", paged, ids(all))
		}

		first := get(alice, url.Values{"limit": {"2"}})
		privateSpace := room("Hidden space", "private_chat", true)
		path := func(roomID id.RoomID, query string) string {
			return "/_matrix/client/v1/rooms/" + url.PathEscape(string(roomID)) + "/hierarchy?" + query
		}
		for _, tc := range []struct {
			name, path string
			status     int
			errcode    string
		}{
			{"a space bob may not see", path(privateSpace, ""), http.StatusForbidden, "M_FORBIDDEN"},
			{"max_depth changed between pages", path(space, "limit=2&max_depth=1&from="+url.QueryEscape(first.NextBatch)), http.StatusBadRequest, "M_INVALID_PARAM"},
			{"a made-up token", path(space, "from=garbage"), http.StatusBadRequest, "M_INVALID_PARAM"},
			{"limit 0", path(space, "limit=0"), http.StatusBadRequest, "M_INVALID_PARAM"},
			{"a negative max_depth", path(space, "max_depth=-1"), http.StatusBadRequest, "M_INVALID_PARAM"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodGet, tc.path, bob.AccessToken, nil), tc.status, tc.errcode)
			})
		}
	})
}

func TestRoomSummary(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		public := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Name: "Lobby", Topic: "Say hi", Preset: "public_chat", RoomAliasName: "lobby",
			CreationContent: map[string]any{"type": "m.space"}})
		private := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Name: "Secret", Preset: "private_chat",
			InitialState: []*event.Event{{Type: event.StateEncryption, StateKey: new(string), Content: event.Content{Raw: map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}}}}})
		summary := func(cli *mautrix.Client, target string) apiResponse {
			return ts.do(t, http.MethodGet, "/_matrix/client/v1/room_summary/"+url.PathEscape(target), cli.AccessToken, nil)
		}
		var got struct {
			RoomID      id.RoomID `json:"room_id"`
			Name        string    `json:"name"`
			Topic       string    `json:"topic"`
			RoomType    string    `json:"room_type"`
			JoinRule    string    `json:"join_rule"`
			Members     int       `json:"num_joined_members"`
			RoomVersion string    `json:"room_version"`
			Membership  string    `json:"membership"`
			Encryption  string    `json:"encryption"`
		}
		r := summary(bob, "#lobby:localhost")
		wantOK(t, r)
		r.decode(t, &got)
		if got.RoomID != public || got.Name != "Lobby" || got.Topic != "Say hi" || got.RoomType != "m.space" || got.JoinRule != "public" || got.Members != 1 || got.RoomVersion == "" || got.Membership != "" {
			t.Errorf("bob's summary of the lobby by alias = %+v", got)
		}
		got.Membership = ""
		r = summary(alice, string(private))
		wantOK(t, r)
		r.decode(t, &got)
		if got.Name != "Secret" || got.Membership != "join" || got.Encryption != "m.megolm.v1.aes-sha2" {
			t.Errorf("alice's summary of her private room = %+v", got)
		}
		wantError(t, summary(bob, string(private)), http.StatusNotFound, "M_NOT_FOUND")
		wantError(t, summary(bob, "!unknown:localhost"), http.StatusNotFound, "M_NOT_FOUND")
		wantError(t, summary(bob, "#nothing:localhost"), http.StatusNotFound, "M_NOT_FOUND")
		wantError(t, summary(bob, "lobby"), http.StatusBadRequest, "M_INVALID_PARAM")
	})
}
