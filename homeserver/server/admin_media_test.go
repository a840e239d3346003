package server_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage/storagetest"
)

// registerAdmin creates a server admin and logs it in.
func (ts *testServer) registerAdmin(t *testing.T, localpart string) *mautrix.Client {
	t.Helper()
	_, err := ts.srv.Accounts.Register(context.Background(), accounts.RegisterParams{Localpart: localpart, Password: password, Admin: true, InhibitLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	return ts.login(t, id.NewUserID(localpart, "localhost"), password)
}

func TestAdminMediaAPI(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		root := ts.registerAdmin(t, "root")
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		a1 := mustUpload(t, alice, []byte("alice one"), "text/plain", "")
		a2 := mustUpload(t, alice, []byte("alice two, longer"), "text/plain", "")
		b1 := mustUpload(t, bob, []byte("bob"), "text/plain", "")
		admin := func(method, path string) apiResponse {
			return ts.do(t, method, path, root.AccessToken, nil)
		}
		download := func(cli *mautrix.Client, path string) apiResponse {
			return ts.mediaRequest(t, http.MethodGet, path, cli.AccessToken, nil, nil)
		}

		t.Run("admins only", func(t *testing.T) {
			wantError(t, ts.do(t, http.MethodGet, "/_synapse/admin/v1/statistics/users/media", alice.AccessToken, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantError(t, ts.do(t, http.MethodDelete, "/_synapse/admin/v1/media/localhost/"+a1.FileID, "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})

		t.Run("usage per user", func(t *testing.T) {
			r := admin(http.MethodGet, "/_synapse/admin/v1/statistics/users/media?order_by=media_length&dir=b")
			wantOK(t, r)
			body := r.object(t)
			users := body["users"].([]any)
			if len(users) != 2 || body["total"].(float64) != 2 {
				t.Fatalf("statistics: %s", r.Body)
			}
			first := users[0].(map[string]any)
			if first["user_id"] != alice.UserID.String() || first["media_count"].(float64) != 2 || first["media_length"].(float64) != 26 || first["displayname"] != "alice" {
				t.Errorf("first row %v, want alice with 2 files, 26 bytes", first)
			}
			r = admin(http.MethodGet, "/_synapse/admin/v1/statistics/users/media?limit=1")
			if body := r.object(t); body["next_token"].(float64) != 1 || len(body["users"].([]any)) != 1 {
				t.Errorf("paged statistics: %s", r.Body)
			}
			wantError(t, admin(http.MethodGet, "/_synapse/admin/v1/statistics/users/media?order_by=nonsense"), http.StatusBadRequest, "M_INVALID_PARAM")
		})

		t.Run("quarantine one, then a user's", func(t *testing.T) {
			wantOK(t, admin(http.MethodPost, "/_synapse/admin/v1/media/quarantine/localhost/"+a1.FileID))
			wantError(t, download(bob, downloadPath(a1)), http.StatusNotFound, "M_NOT_FOUND")
			wantOK(t, admin(http.MethodPost, "/_synapse/admin/v1/media/unquarantine/localhost/"+a1.FileID))
			wantOK(t, download(bob, downloadPath(a1)))
			r := admin(http.MethodPost, "/_synapse/admin/v1/user/"+bob.UserID.String()+"/media/quarantine")
			if r.object(t)["num_quarantined"].(float64) != 1 {
				t.Errorf("user quarantine: %s", r.Body)
			}
			wantError(t, download(alice, downloadPath(b1)), http.StatusNotFound, "M_NOT_FOUND")
		})

		t.Run("quarantine a room's media", func(t *testing.T) {
			room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := alice.SendMessageEvent(ctx, room.RoomID, event.EventMessage, map[string]any{"msgtype": "m.file", "body": "f", "url": a2.String()}); err != nil {
				t.Fatal(err)
			}
			r := admin(http.MethodPost, "/_synapse/admin/v1/room/"+room.RoomID.String()+"/media/quarantine")
			if r.object(t)["num_quarantined"].(float64) != 1 {
				t.Errorf("room quarantine: %s", r.Body)
			}
			wantError(t, download(alice, downloadPath(a2)), http.StatusNotFound, "M_NOT_FOUND")
		})

		t.Run("delete", func(t *testing.T) {
			wantError(t, admin(http.MethodDelete, "/_synapse/admin/v1/media/elsewhere.example/abc"), http.StatusBadRequest, "M_INVALID_PARAM")
			wantError(t, admin(http.MethodDelete, "/_synapse/admin/v1/media/localhost/unknown"), http.StatusNotFound, "M_NOT_FOUND")
			r := admin(http.MethodDelete, "/_synapse/admin/v1/media/localhost/"+a1.FileID)
			if body := r.object(t); body["total"].(float64) != 1 || body["deleted_media"].([]any)[0] != a1.FileID {
				t.Errorf("delete: %s", r.Body)
			}
			r = admin(http.MethodDelete, "/_synapse/admin/v1/users/"+bob.UserID.String()+"/media")
			if body := r.object(t); body["total"].(float64) != 1 {
				t.Errorf("delete user media: %s", r.Body)
			}
			wantError(t, admin(http.MethodPost, "/_synapse/admin/v1/media/delete"), http.StatusBadRequest, "M_MISSING_PARAM")
			future := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
			r = admin(http.MethodPost, "/_synapse/admin/v1/media/delete?before_ts="+future)
			if body := r.object(t); body["total"].(float64) != 1 || body["deleted_media"].([]any)[0] != a2.FileID {
				t.Errorf("delete by age: %s", r.Body)
			}
			r = admin(http.MethodPost, "/_synapse/admin/v1/purge_media_cache?before_ts="+future)
			if body := r.object(t); body["deleted"].(float64) != 0 {
				t.Errorf("purge cache: %s", r.Body)
			}
			wantError(t, download(alice, downloadPath(a2)), http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}
