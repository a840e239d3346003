package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/storage/storagetest"
)

// parallel runs n copies of do at once and returns their answers in order. do must not fail the
// test itself, since it runs on goroutines of its own.
func parallel(n int, do func(i int) apiResponse) []apiResponse {
	out := make([]apiResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = do(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// rawDo is ts.do for goroutines: it reports a transport failure as status 0 instead of failing
// the test.
func (ts *testServer) rawDo(method, path, token, body string) apiResponse {
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		return apiResponse{Body: []byte(err.Error())}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResponse{Body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{Body: []byte(err.Error())}
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestConcurrentRequests sends requests that race for the same resource: each must get a
// protocol answer (never a 409 or 500 born of the race), and the outcome must be as if they
// had come one at a time.
func TestConcurrentRequests(t *testing.T) {
	const n = 8
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})

		t.Run("filter uploads", func(t *testing.T) {
			path := "/_matrix/client/v3/user/" + url.PathEscape(alice.UserID.String()) + "/filter"
			answers := parallel(n, func(i int) apiResponse {
				return ts.rawDo(http.MethodPost, path, alice.AccessToken, fmt.Sprintf(`{"room":{"timeline":{"limit":%d}}}`, i+1))
			})
			seen := map[string]bool{}
			for i, r := range answers {
				wantOK(t, r)
				filterID, _ := r.object(t)["filter_id"].(string)
				if seen[filterID] {
					t.Errorf("filter ID %s given twice", filterID)
				}
				seen[filterID] = true
				got := ts.do(t, http.MethodGet, path+"/"+filterID, alice.AccessToken, nil)
				if want := fmt.Sprintf(`{"room":{"timeline":{"limit":%d}}}`, i+1); string(got.Body) != want {
					t.Errorf("filter %s = %s, want %s", filterID, got.Body, want)
				}
			}
		})
		t.Run("retransmissions of one send", func(t *testing.T) {
			path := roomPath(roomID, "/send/m.room.message/same-txn")
			answers := parallel(n, func(int) apiResponse {
				return ts.rawDo(http.MethodPut, path, alice.AccessToken, `{"msgtype":"m.text","body":"only once"}`)
			})
			var ids []string
			for _, r := range answers {
				wantOK(t, r)
				evID, _ := r.object(t)["event_id"].(string)
				ids = append(ids, evID)
			}
			slices.Sort(ids)
			if len(slices.Compact(ids)) != 1 {
				t.Errorf("retransmissions returned several events: %v", ids)
			}
			if got := ts.allBodies(t, alice, roomID); !slices.Equal(got, []string{"only once"}) {
				t.Errorf("room messages = %q, want one", got)
			}
		})
		t.Run("registrations of one username", func(t *testing.T) {
			answers := parallel(n, func(int) apiResponse {
				return ts.rawDo(http.MethodPost, registerPath, "", `{"username":"racer","password":"p4ssword","auth":{"type":"m.login.dummy"}}`)
			})
			won := 0
			for _, r := range answers {
				if r.Status == 200 {
					won++
					continue
				}
				wantError(t, r, 400, "M_USER_IN_USE")
			}
			if won != 1 {
				t.Errorf("%d registrations of one username succeeded, want 1", won)
			}
		})
		t.Run("joins", func(t *testing.T) {
			var clients []*mautrix.Client
			for i := range n {
				clients = append(clients, ts.register(t, fmt.Sprintf("joiner%d", i)))
			}
			answers := parallel(n, func(i int) apiResponse {
				return ts.rawDo(http.MethodPost, roomPath(roomID, "/join"), clients[i].AccessToken, `{}`)
			})
			for _, r := range answers {
				wantOK(t, r)
			}
			members, err := alice.JoinedMembers(t.Context(), roomID)
			if err != nil || len(members.Joined) != n+1 {
				t.Errorf("joined members = %d, %v; want %d", len(members.Joined), err, n+1)
			}
		})
	})
}
