package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestReports(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		root := ts.registerAdmin(t, "root")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		spam := mustSend(t, alice, roomID, "buy now")
		eventPath := roomPath(roomID, "/report/"+string(spam))
		userPath := "/_matrix/client/v3/users/" + url.PathEscape(string(alice.UserID)) + "/report"

		wantOK(t, ts.do(t, http.MethodPost, eventPath, bob.AccessToken, map[string]any{"reason": "spam"}))
		wantOK(t, ts.do(t, http.MethodPost, roomPath(roomID, "/report"), carol.AccessToken, map[string]any{"reason": ""}))
		wantOK(t, ts.do(t, http.MethodPost, userPath, carol.AccessToken, map[string]any{"reason": "harassment"}))

		tests := []struct {
			name, path, token string
			body              any
			status            int
			errcode           string
		}{
			{"an event of a room the reporter is not in", eventPath, carol.AccessToken, map[string]any{"reason": "x"}, http.StatusNotFound, "M_NOT_FOUND"},
			{"an unknown event", roomPath(roomID, "/report/$nothing"), bob.AccessToken, map[string]any{"reason": "x"}, http.StatusNotFound, "M_NOT_FOUND"},
			{"an unknown room", roomPath("!nowhere:localhost", "/report"), bob.AccessToken, map[string]any{"reason": "x"}, http.StatusNotFound, "M_NOT_FOUND"},
			{"an unknown user", "/_matrix/client/v3/users/" + url.PathEscape("@nobody:localhost") + "/report", bob.AccessToken, map[string]any{"reason": "x"}, http.StatusNotFound, "M_NOT_FOUND"},
			{"a room without a reason", roomPath(roomID, "/report"), bob.AccessToken, map[string]any{}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"a user without a reason", userPath, bob.AccessToken, map[string]any{}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"without a token", userPath, "", map[string]any{"reason": "x"}, http.StatusUnauthorized, "M_MISSING_TOKEN"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodPost, tc.path, tc.token, tc.body), tc.status, tc.errcode)
			})
		}

		type page struct {
			Reports   []storage.Report `json:"reports"`
			NextToken string           `json:"next_token"`
		}
		list := func(query string) page {
			t.Helper()
			r := ts.do(t, http.MethodGet, "/_causeway/admin/v1/reports"+query, root.AccessToken, nil)
			wantOK(t, r)
			var p page
			r.decode(t, &p)
			return p
		}
		first := list("?limit=2")
		if len(first.Reports) != 2 || first.NextToken == "" {
			t.Fatalf("first page: %+v", first)
		}
		user, room := first.Reports[0], first.Reports[1]
		if user.Kind != "user" || user.UserID != alice.UserID || user.Reporter != carol.UserID || user.Reason != "harassment" || user.ReceivedTS == 0 {
			t.Errorf("newest report = %+v, want carol's report of alice", user)
		}
		if room.Kind != "room" || room.RoomID != roomID || room.Reason != "" {
			t.Errorf("second report = %+v, want carol's report of the room", room)
		}
		second := list("?limit=2&from=" + first.NextToken)
		want := storage.Report{Kind: "event", Reporter: bob.UserID, RoomID: roomID, EventID: spam, UserID: alice.UserID, Reason: "spam"}
		if len(second.Reports) != 1 || second.NextToken != "" {
			t.Fatalf("second page: %+v, want the event report alone", second)
		}
		got := second.Reports[0]
		got.ID, got.ReceivedTS = 0, 0
		if got != want {
			t.Errorf("oldest report = %+v, want %+v", got, want)
		}
		wantError(t, ts.do(t, http.MethodGet, "/_causeway/admin/v1/reports", bob.AccessToken, nil), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, ts.do(t, http.MethodGet, "/_causeway/admin/v1/reports?limit=0", root.AccessToken, nil), http.StatusBadRequest, "M_INVALID_PARAM")
	})
}

func TestWhois(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		root := ts.registerAdmin(t, "root")
		path := func(user string) string { return "/_matrix/client/v3/admin/whois/" + url.PathEscape(user) }
		for _, cli := range []*mautrix.Client{root, alice} {
			r := ts.do(t, http.MethodGet, path(string(alice.UserID)), cli.AccessToken, nil)
			wantOK(t, r)
			var got struct {
				UserID  string `json:"user_id"`
				Devices map[string]struct {
					Sessions []struct {
						Connections []struct {
							IP       string `json:"ip"`
							LastSeen int64  `json:"last_seen"`
						} `json:"connections"`
					} `json:"sessions"`
				} `json:"devices"`
			}
			r.decode(t, &got)
			dev, ok := got.Devices[string(alice.DeviceID)]
			if got.UserID != string(alice.UserID) || !ok || len(dev.Sessions) != 1 || len(dev.Sessions[0].Connections) != 1 || dev.Sessions[0].Connections[0].IP == "" || dev.Sessions[0].Connections[0].LastSeen == 0 {
				t.Errorf("whois alice as %s = %s", cli.UserID, r.Body)
			}
		}
		wantError(t, ts.do(t, http.MethodGet, path(string(alice.UserID)), bob.AccessToken, nil), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, ts.do(t, http.MethodGet, path("@nobody:localhost"), root.AccessToken, nil), http.StatusNotFound, "M_NOT_FOUND")
	})
}
