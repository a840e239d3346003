package appservice_test

import (
	"context"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/storage/storagetest"
)

// TestDoublePuppetGrant has a user let the appservice act as them, the appservice post as the
// user's real account, and the user revoke the grant again.
func TestDoublePuppetGrant(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		alice := env.user(t, "alice")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		puppet := env.as.Client(alice.UserID)
		if _, err := puppet.SendText(ctx, room.RoomID, "not yet"); errCode(err) != "M_FORBIDDEN" {
			t.Fatalf("acting as alice without a grant: %v, want M_FORBIDDEN", err)
		}

		grants := env.hsURL + "/_matrix/client/unstable/io.causeway/appservice_grants"
		doJSON(t, http.MethodPut, grants+"/testbridge", alice.AccessToken, http.StatusOK)
		doJSON(t, http.MethodPut, grants+"/nosuchbridge", alice.AccessToken, http.StatusNotFound)
		var list struct {
			Appservices []string `json:"appservices"`
		}
		getJSON(t, grants, alice.AccessToken, http.StatusOK, &list)
		if len(list.Appservices) != 1 || list.Appservices[0] != "testbridge" {
			t.Errorf("grants = %v, want [testbridge]", list.Appservices)
		}

		sent, err := puppet.SendText(ctx, room.RoomID, "posted by the bridge as alice")
		if err != nil {
			t.Fatalf("acting as alice with a grant: %v", err)
		}
		ev, err := alice.GetEvent(ctx, room.RoomID, sent.EventID)
		if err != nil || ev.Sender != alice.UserID {
			t.Errorf("the puppeted event: %+v, %v", ev, err)
		}
		// The appservice cannot grant itself anything, even while acting as the user.
		doJSON(t, http.MethodPut, grants+"/testbridge?user_id="+string(alice.UserID), env.as.Registration.AppToken, http.StatusForbidden)

		doJSON(t, http.MethodDelete, grants+"/testbridge", alice.AccessToken, http.StatusOK)
		if _, err := puppet.SendText(ctx, room.RoomID, "no longer"); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("acting as alice after revoking: %v, want M_FORBIDDEN", err)
		}
		doJSON(t, http.MethodDelete, grants+"/testbridge", alice.AccessToken, http.StatusNotFound)
	})
}

func doJSON(t *testing.T, method, url, token string, wantStatus int) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: %d, want %d", method, url, resp.StatusCode, wantStatus)
	}
}

// TestAdminGrant has an admin grant the appservice the right to act as a user, as an operator
// migrating a team would for the importer.
func TestAdminGrant(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		root := env.admin(t)
		bob := env.user(t, "bob")
		room, err := bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		url := env.hsURL + "/_causeway/admin/v1/users/" + string(bob.UserID) + "/appservice_grants/testbridge"
		doJSON(t, http.MethodPut, url, bob.AccessToken, http.StatusForbidden) // not an admin
		doJSON(t, http.MethodPut, url, root.AccessToken, http.StatusOK)
		if _, err := env.as.Client(bob.UserID).SendText(ctx, room.RoomID, "imported as bob"); err != nil {
			t.Fatalf("acting as bob after the admin's grant: %v", err)
		}
		doJSON(t, http.MethodDelete, url, root.AccessToken, http.StatusOK)
		if _, err := env.as.Client(bob.UserID).SendText(ctx, room.RoomID, "no longer"); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("after the admin revoked: %v, want M_FORBIDDEN", err)
		}
	})
}
