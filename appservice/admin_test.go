package appservice_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/accounts"
	"causeway/homeserver/admin"
	"causeway/homeserver/storage/storagetest"
)

// TestAdminStatus reads appservice delivery status through the admin API: admins only, and
// a down appservice shows its error and queued events.
func TestAdminStatus(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		adminCli := env.admin(t)
		alice := env.user(t, "alice")

		// Something for the appservice to receive while it is down.
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.as.Intent("@_bridge_x:localhost").EnsureJoined(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		env.asFront.setDown(true)
		if _, err := alice.SendText(ctx, room.RoomID, "queued"); err != nil {
			t.Fatal(err)
		}

		url := env.hsURL + "/_causeway/admin/v1/appservices"
		if status := getStatus(t, url, alice.AccessToken, nil); status != http.StatusForbidden {
			t.Errorf("a non-admin got %d, want 403", status)
		}
		var body struct {
			Appservices []admin.AppserviceStatus `json:"appservices"`
		}
		for range 200 { // until the sender has tried and failed at least once
			if status := getStatus(t, url, adminCli.AccessToken, &body); status != http.StatusOK {
				t.Fatalf("admin got %d", status)
			}
			if len(body.Appservices) == 1 && body.Appservices[0].LastError != "" {
				break
			}
			env.waitABit()
		}
		if len(body.Appservices) != 1 || body.Appservices[0].ID != "testbridge" {
			t.Fatalf("statuses = %+v, want testbridge", body.Appservices)
		}
		st := body.Appservices[0]
		if st.LastError == "" || st.QueueDepth < 1 || st.InFlightTxnID == "" {
			t.Errorf("status of a down appservice with a queued event: %+v", st)
		}

		rec := httptest.NewRecorder()
		env.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for _, want := range []string{`causeway_appservice_queue_depth{appservice="testbridge"}`, `causeway_appservice_transaction_in_flight{appservice="testbridge"} 1`} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func getStatus(t *testing.T, url, token string, into any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// admin creates a server admin and returns a client logged in as them.
func (env *bridgeEnv) admin(t *testing.T) *mautrix.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := env.srv.Accounts.Register(ctx, accounts.RegisterParams{Localpart: "root", Password: "admin password", Admin: true, InhibitLogin: true}); err != nil {
		t.Fatal(err)
	}
	cli, _ := mautrix.NewClient(env.hsURL, "", "")
	login := &mautrix.ReqLogin{Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "root"},
		Password: "admin password", StoreCredentials: true}
	if _, err := cli.Login(ctx, login); err != nil {
		t.Fatal(err)
	}
	return cli
}
