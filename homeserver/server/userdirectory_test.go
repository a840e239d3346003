package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

func TestUserDirectory(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		named := func(localpart, name string) *mautrix.Client {
			cli := ts.register(t, localpart)
			if err := cli.SetDisplayName(ctx, name); err != nil {
				t.Fatal(err)
			}
			return cli
		}
		alice := named("alice", "Alice")
		bob := named("bob", "Bob Builder")      // shares a private room with alice
		robin := named("robin", "Robin Hood")   // in a room anyone may join
		rob := named("rob", "Rob Private")      // alone in a private room
		under := named("ab_c", "Underscore")    // shares the room; a LIKE wildcard in the localpart
		plain := named("abxc", "No Underscore") // shares the room too
		gone := named("bobby", "Bobby Gone")    // shared the room, then deactivated

		private := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID, under.UserID, plain.UserID, gone.UserID}})
		for _, cli := range []*mautrix.Client{bob, under, plain, gone} {
			mustJoin(t, cli, string(private))
		}
		mustCreateRoom(t, robin, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustCreateRoom(t, rob, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err := ts.srv.Accounts.Deactivate(ctx, gone.UserID); err != nil {
			t.Fatal(err)
		}

		search := func(term string, limit int) ([]id.UserID, bool) {
			t.Helper()
			resp, err := alice.SearchUserDirectory(ctx, term, limit)
			if err != nil {
				t.Fatalf("search %q: %v", term, err)
			}
			var ids []id.UserID
			for _, u := range resp.Results {
				ids = append(ids, u.UserID)
			}
			return ids, resp.Limited
		}
		if got, _ := search("ro", 10); !slices.Equal(got, []id.UserID{robin.UserID}) {
			t.Errorf(`"ro" found %v, want robin (a public room) and not rob (alone in a private one)`, got)
		}
		if got, _ := search("BOB", 10); !slices.Equal(got, []id.UserID{bob.UserID}) {
			t.Errorf(`"BOB" found %v, want bob, not the deactivated bobby`, got)
		}
		if got, _ := search("b_c", 10); !slices.Equal(got, []id.UserID{under.UserID}) {
			t.Errorf(`"b_c" found %v, want ab_c alone: _ is not a wildcard`, got)
		}
		if got, _ := search("hood", 10); !slices.Equal(got, []id.UserID{robin.UserID}) {
			t.Errorf(`"hood" found %v, want robin by display name`, got)
		}
		if got, limited := search("underscore", 1); len(got) != 1 || got[0] != under.UserID || !limited {
			t.Errorf(`"underscore" with limit 1: %v, limited %v; want the prefix match first and limited`, got, limited)
		}
		if got, _ := search("alice", 10); len(got) != 0 {
			t.Errorf("alice finds herself: %v", got)
		}
		for _, body := range []any{map[string]any{}, map[string]any{"search_term": "x", "limit": -1}, map[string]any{"search_term": 5}} {
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/user_directory/search", alice.AccessToken, body)
			if r.Status != http.StatusBadRequest {
				t.Errorf("search with %v: %d %s, want 400", body, r.Status, r.Body)
			}
		}
	})
}
