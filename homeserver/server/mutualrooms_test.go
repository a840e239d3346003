package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// mutualRoomsPage is one answer of /mutual_rooms.
type mutualRoomsPage struct {
	Joined    []id.RoomID `json:"joined"`
	Count     int         `json:"count"`
	NextBatch string      `json:"next_batch"`
}

func TestMutualRooms(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		var want []id.RoomID
		for range 103 {
			roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
			mustJoin(t, bob, string(roomID))
			want = append(want, roomID)
		}
		mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{}) // alice alone
		left := want[0]
		if _, err := bob.LeaveRoom(t.Context(), left); err != nil {
			t.Fatal(err)
		}
		want = want[1:]
		slices.Sort(want)

		get := func(query url.Values) mutualRoomsPage {
			t.Helper()
			r := ts.do(t, http.MethodGet, "/_matrix/client/v1/mutual_rooms?"+query.Encode(), alice.AccessToken, nil)
			wantOK(t, r)
			var page mutualRoomsPage
			r.decode(t, &page)
			return page
		}
		first := get(url.Values{"user_id": {string(bob.UserID)}})
		if first.Count != 102 || len(first.Joined) != 100 || first.NextBatch == "" {
			t.Fatalf("first page: count %d, %d rooms, next %q; want 102, 100 and a next page", first.Count, len(first.Joined), first.NextBatch)
		}
		second := get(url.Values{"user_id": {string(bob.UserID)}, "from": {first.NextBatch}})
		if second.NextBatch != "" || len(second.Joined) != 2 {
			t.Errorf("second page: %d rooms, next %q; want the last 2", len(second.Joined), second.NextBatch)
		}
		if got := append(first.Joined, second.Joined...); !slices.Equal(got, want) {
			t.Errorf("mutual rooms = %v, want %v", got, want)
		}
		if none := get(url.Values{"user_id": {"@nobody:localhost"}}); none.Count != 0 || len(none.Joined) != 0 {
			t.Errorf("with a user who does not exist: %+v, want an empty list", none)
		}
		for _, query := range []url.Values{{}, {"user_id": {string(alice.UserID)}}, {"user_id": {"bob"}}, {"user_id": {string(bob.UserID)}, "from": {"garbage"}}} {
			r := ts.do(t, http.MethodGet, "/_matrix/client/v1/mutual_rooms?"+query.Encode(), alice.AccessToken, nil)
			wantError(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		}
	})
}
