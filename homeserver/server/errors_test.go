package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// TestRequestBodyErrors sends bodies that are not JSON, JSON of the wrong shape and bodies over
// client_api.max_request_body_bytes, and checks the standard error responses
// (content/client-server-api/_index.md, "Standard error response") and that none of them
// created anything.
func TestRequestBodyErrors(t *testing.T) {
	const limit = 4096
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn, func(c *config.Config) { c.ClientAPI.MaxRequestBodyBytes = limit })
		alice := ts.register(t, "alice")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{})
		mustSend(t, alice, roomID, "before")
		send := roomPath(roomID, "/send/m.room.message/")
		big := rawBody(`{"msgtype":"m.text","body":"` + strings.Repeat("x", limit) + `"}`)

		tests := []struct {
			name    string
			method  string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"send truncated JSON", http.MethodPut, send + "t1", rawBody(`{"msgtype":`), 400, "M_NOT_JSON"},
			{"send empty body", http.MethodPut, send + "t2", nil, 400, "M_NOT_JSON"},
			{"send whitespace body", http.MethodPut, send + "t3", rawBody("  \n"), 400, "M_NOT_JSON"},
			{"send invalid UTF-8", http.MethodPut, send + "t4", rawBody("{\"body\":\"\xff\"}"), 400, "M_NOT_JSON"},
			{"send JSON array", http.MethodPut, send + "t5", rawBody(`[1,2]`), 400, "M_BAD_JSON"},
			{"send JSON string", http.MethodPut, send + "t6", rawBody(`"hello"`), 400, "M_BAD_JSON"},
			{"send over the body limit", http.MethodPut, send + "t7", big, 413, "M_TOO_LARGE"},
			{"createRoom truncated JSON", http.MethodPost, "/_matrix/client/v3/createRoom", rawBody(`{"name":"x"`), 400, "M_NOT_JSON"},
			{"createRoom name is a number", http.MethodPost, "/_matrix/client/v3/createRoom", rawBody(`{"name":5}`), 400, "M_BAD_JSON"},
			{"createRoom invite is a string", http.MethodPost, "/_matrix/client/v3/createRoom", rawBody(`{"invite":"@bob:localhost"}`), 400, "M_BAD_JSON"},
			{"createRoom is_direct is a string", http.MethodPost, "/_matrix/client/v3/createRoom", rawBody(`{"is_direct":"yes"}`), 400, "M_BAD_JSON"},
			{"createRoom initial_state content not an object", http.MethodPost, "/_matrix/client/v3/createRoom",
				rawBody(`{"initial_state":[{"type":"m.room.topic","content":"x"}]}`), 400, "M_BAD_JSON"},
			{"createRoom over the body limit", http.MethodPost, "/_matrix/client/v3/createRoom",
				rawBody(`{"name":"` + strings.Repeat("n", limit) + `"}`), 413, "M_TOO_LARGE"},
			{"state truncated JSON", http.MethodPut, roomPath(roomID, "/state/m.room.topic/"), rawBody(`{"topic`), 400, "M_NOT_JSON"},
			{"login truncated JSON", http.MethodPost, "/_matrix/client/v3/login", rawBody(`{"type":`), 400, "M_NOT_JSON"},
			{"login type is a number", http.MethodPost, "/_matrix/client/v3/login", rawBody(`{"type":1}`), 400, "M_BAD_JSON"},
			{"register username is a number", http.MethodPost, "/_matrix/client/v3/register", rawBody(`{"username":5,"password":"p"}`), 400, "M_BAD_JSON"},
			{"filter is an array", http.MethodPost, "/_matrix/client/v3/user/" + url.PathEscape(alice.UserID.String()) + "/filter", rawBody(`[]`), 400, "M_BAD_JSON"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, tc.method, tc.path, alice.AccessToken, tc.body)
				wantError(t, r, tc.status, tc.errcode)
				if r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", r.Header.Get("Content-Type"))
				}
				if m := r.object(t); m["error"] == "" || m["error"] == nil {
					t.Errorf("error response has no human-readable error: %s", r.Body)
				}
			})
		}

		// None of the refused requests created a room or an event.
		if got := joinedRooms(t, alice); !slices.Equal(got, []id.RoomID{roomID}) {
			t.Errorf("joined rooms after the refused requests = %v, want only %s", got, roomID)
		}
		if got := ts.allBodies(t, alice, roomID); !slices.Equal(got, []string{"before"}) {
			t.Errorf("messages after the refused requests = %q, want only \"before\"", got)
		}
	})
}

// TestEventTooLarge sends events whose body fits the request limit but whose PDU exceeds the
// 65536 bytes the spec allows ("Size limits" in content/client-server-api/_index.md).
func TestEventTooLarge(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn, func(c *config.Config) { c.ClientAPI.MaxRequestBodyBytes = 1 << 20 })
		alice := ts.register(t, "alice")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{})

		tests := []struct {
			name    string
			method  string
			path    string
			size    int
			status  int
			errcode string
		}{
			{"message just under the limit", http.MethodPut, roomPath(roomID, "/send/m.room.message/small"), 60000, 200, ""},
			{"message over the limit", http.MethodPut, roomPath(roomID, "/send/m.room.message/big"), 70000, 413, "M_TOO_LARGE"},
			{"state event over the limit", http.MethodPut, roomPath(roomID, "/state/m.room.topic/"), 70000, 413, "M_TOO_LARGE"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				body := map[string]any{"msgtype": "m.text", "body": "padded", "topic": "padded", "pad": strings.Repeat("p", tc.size)}
				r := ts.do(t, tc.method, tc.path, alice.AccessToken, body)
				if tc.status == 200 {
					wantOK(t, r)
					return
				}
				wantError(t, r, tc.status, tc.errcode)
			})
		}
		if got := ts.allBodies(t, alice, roomID); !slices.Equal(got, []string{"padded"}) {
			t.Errorf("messages = %d bodies, want only the one under the limit", len(got))
		}
		r := ts.do(t, http.MethodGet, roomPath(roomID, "/state/m.room.topic/"), alice.AccessToken, nil)
		wantError(t, r, 404, "M_NOT_FOUND")
	})
}

// TestAccessTokens covers how requests authenticate ("Using access tokens" in
// content/client-server-api/_index.md): a missing token, an unknown one, a malformed header and
// the access_token query parameter, allowed by default and refused when
// client_api.access_token_query_param is false.
func TestAccessTokens(t *testing.T) {
	for _, queryParam := range []bool{true, false} {
		name := "query param allowed"
		if !queryParam {
			name = "query param refused"
		}
		t.Run(name, func(t *testing.T) {
			storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
				ts := startServer(t, driver, dsn, func(c *config.Config) { c.ClientAPI.AccessTokenQueryParam = queryParam })
				alice := ts.register(t, "alice")
				whoami := "/_matrix/client/v3/account/whoami"
				queryStatus, queryErr := 200, ""
				if !queryParam {
					queryStatus, queryErr = 401, "M_MISSING_TOKEN"
				}
				tests := []struct {
					name    string
					path    string
					header  string
					status  int
					errcode string
				}{
					{"no token", whoami, "", 401, "M_MISSING_TOKEN"},
					{"no token on sync", "/_matrix/client/v3/sync", "", 401, "M_MISSING_TOKEN"},
					{"no token on joined_rooms", "/_matrix/client/v3/joined_rooms", "", 401, "M_MISSING_TOKEN"},
					{"unknown token", whoami, "Bearer cwa_nosuchtoken", 401, "M_UNKNOWN_TOKEN"},
					{"empty bearer", whoami, "Bearer ", 401, "M_MISSING_TOKEN"},
					{"basic scheme", whoami, "Basic YWxpY2U6cGFzcw==", 401, "M_MISSING_TOKEN"},
					{"valid header", whoami, "Bearer " + alice.AccessToken, 200, ""},
					{"lower-case scheme", whoami, "bearer " + alice.AccessToken, 200, ""},
					{"valid query param", whoami + "?access_token=" + url.QueryEscape(alice.AccessToken), "", queryStatus, queryErr},
					{"unknown query param", whoami + "?access_token=cwa_nosuchtoken", "", 401, map[bool]string{true: "M_UNKNOWN_TOKEN", false: "M_MISSING_TOKEN"}[queryParam]},
					{"header wins over query param", whoami + "?access_token=cwa_nosuchtoken", "Bearer " + alice.AccessToken, 200, ""},
				}
				for _, tc := range tests {
					t.Run(tc.name, func(t *testing.T) {
						req, err := http.NewRequest(http.MethodGet, ts.URL+tc.path, nil)
						if err != nil {
							t.Fatal(err)
						}
						if tc.header != "" {
							req.Header.Set("Authorization", tc.header)
						}
						r := ts.send(t, req)
						if tc.status == 200 {
							wantOK(t, r)
							if got := r.object(t)["user_id"]; got != alice.UserID.String() {
								t.Errorf("whoami user_id = %v, want %s", got, alice.UserID)
							}
							return
						}
						wantError(t, r, tc.status, tc.errcode)
						if sl, ok := r.object(t)["soft_logout"]; ok && sl == true {
							t.Errorf("%s must not be a soft logout: %s", tc.name, r.Body)
						}
					})
				}
			})
		})
	}
}

// TestRouting covers the answers that do not depend on an endpoint: unknown endpoints (404
// M_UNRECOGNIZED), known endpoints with the wrong method (405 M_UNRECOGNIZED), the legacy r0
// prefix and CORS preflight requests ("Web Browser Clients").
func TestRouting(t *testing.T) {
	for _, legacy := range []bool{true, false} {
		name := "r0 served"
		if !legacy {
			name = "r0 not served"
		}
		t.Run(name, func(t *testing.T) {
			storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
				ts := startServer(t, driver, dsn, func(c *config.Config) { c.ClientAPI.LegacyR0Prefix = legacy })
				alice := ts.register(t, "alice")
				r0Status, r0Err := 200, ""
				if !legacy {
					r0Status, r0Err = 404, "M_UNRECOGNIZED"
				}
				tests := []struct {
					name    string
					method  string
					path    string
					status  int
					errcode string
				}{
					{"v3 whoami", http.MethodGet, "/_matrix/client/v3/account/whoami", 200, ""},
					{"r0 whoami", http.MethodGet, "/_matrix/client/r0/account/whoami", r0Status, r0Err},
					{"r0 joined_rooms", http.MethodGet, "/_matrix/client/r0/joined_rooms", r0Status, r0Err},
					{"versions without auth", http.MethodGet, "/_matrix/client/versions", 200, ""},
					{"unknown v3 endpoint", http.MethodGet, "/_matrix/client/v3/no_such_endpoint", 404, "M_UNRECOGNIZED"},
					{"unknown room endpoint", http.MethodGet, "/_matrix/client/v3/rooms/!a:localhost/no_such_thing", 404, "M_UNRECOGNIZED"},
					{"unknown API version", http.MethodGet, "/_matrix/client/v9/account/whoami", 404, "M_UNRECOGNIZED"},
					{"outside the API", http.MethodGet, "/index.html", 404, "M_UNRECOGNIZED"},
					{"DELETE /login", http.MethodDelete, "/_matrix/client/v3/login", 405, "M_UNRECOGNIZED"},
					{"GET /createRoom", http.MethodGet, "/_matrix/client/v3/createRoom", 405, "M_UNRECOGNIZED"},
					{"POST /sync", http.MethodPost, "/_matrix/client/v3/sync", 405, "M_UNRECOGNIZED"},
					{"GET /rooms/{roomId}/send/{type}/{txnId}", http.MethodGet, "/_matrix/client/v3/rooms/!a:localhost/send/m.room.message/1", 405, "M_UNRECOGNIZED"},
				}
				for _, tc := range tests {
					t.Run(tc.name, func(t *testing.T) {
						r := ts.do(t, tc.method, tc.path, alice.AccessToken, nil)
						if tc.status == 200 {
							wantOK(t, r)
							return
						}
						wantError(t, r, tc.status, tc.errcode)
					})
				}
			})
		})
	}
}

// TestCORS checks that preflight requests are answered without authentication and that every
// response carries the CORS headers the spec recommends ("Web Browser Clients").
func TestCORS(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		tests := []struct {
			name   string
			method string
			path   string
			status int
		}{
			{"preflight of an authenticated endpoint", http.MethodOptions, "/_matrix/client/v3/account/whoami", 200},
			{"preflight of a room endpoint", http.MethodOptions, "/_matrix/client/v3/rooms/!a:localhost/send/m.room.message/1", 200},
			{"preflight of an unknown endpoint", http.MethodOptions, "/_matrix/client/v3/no_such_endpoint", 200},
			{"error response", http.MethodGet, "/_matrix/client/v3/account/whoami", 401},
			{"unknown endpoint", http.MethodGet, "/_matrix/client/v3/no_such_endpoint", 404},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req, err := http.NewRequest(tc.method, ts.URL+tc.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Origin", "https://app.example.com")
				req.Header.Set("Access-Control-Request-Method", http.MethodPut)
				req.Header.Set("Access-Control-Request-Headers", "Authorization, Content-Type")
				r := ts.send(t, req)
				if r.Status != tc.status {
					t.Fatalf("status = %d, want %d; body: %s", r.Status, tc.status, r.Body)
				}
				if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
					t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
				}
				for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"} {
					if !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), m) {
						t.Errorf("Access-Control-Allow-Methods = %q, missing %s", r.Header.Get("Access-Control-Allow-Methods"), m)
					}
				}
				for _, h := range []string{"X-Requested-With", "Content-Type", "Authorization"} {
					if !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), h) {
						t.Errorf("Access-Control-Allow-Headers = %q, missing %s", r.Header.Get("Access-Control-Allow-Headers"), h)
					}
				}
			})
		}
	})
}
