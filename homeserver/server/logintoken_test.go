package server_test

import (
	"context"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/storage/storagetest"
)

func TestLoginToken(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		const getToken = "/_matrix/client/v1/login/get_token"

		// Proving it is her again, alice makes a token.
		session := wantUIA(t, ts.do(t, http.MethodPost, getToken, alice.AccessToken, map[string]any{}), "m.login.password", "").Session
		r := ts.do(t, http.MethodPost, getToken, alice.AccessToken, map[string]any{"auth": passwordAuth(alice.UserID, password, session)})
		wantOK(t, r)
		var got struct {
			LoginToken  string `json:"login_token"`
			ExpiresInMS int64  `json:"expires_in_ms"`
		}
		r.decode(t, &got)
		if got.LoginToken == "" || got.ExpiresInMS != 120_000 {
			t.Fatalf("get_token = %+v", got)
		}

		// Another device logs in with it, once.
		other, err := mautrix.NewClient(ts.URL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := other.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypeToken, Token: got.LoginToken, InitialDeviceDisplayName: "phone"})
		if err != nil || resp.UserID != alice.UserID || resp.AccessToken == "" || resp.DeviceID == alice.DeviceID {
			t.Fatalf("login with the token = %+v, %v; want alice on a new device", resp, err)
		}
		login := func(body map[string]any) apiResponse {
			return ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", body)
		}
		wantError(t, login(map[string]any{"type": "m.login.token", "token": got.LoginToken}), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, login(map[string]any{"type": "m.login.token", "token": "cwl_made_up"}), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, login(map[string]any{"type": "m.login.token"}), http.StatusBadRequest, "M_MISSING_PARAM")
		again := wantUIA(t, ts.do(t, http.MethodPost, getToken, alice.AccessToken, map[string]any{}), "m.login.password", "").Session
		wantUIA(t, ts.do(t, http.MethodPost, getToken, alice.AccessToken, map[string]any{"auth": passwordAuth(alice.UserID, "wrong", again)}), "m.login.password", "M_FORBIDDEN")
		wantError(t, ts.do(t, http.MethodPost, getToken, "", map[string]any{}), http.StatusUnauthorized, "M_MISSING_TOKEN")

		// Servers say so to clients before and after login.
		flows := ts.do(t, http.MethodGet, "/_matrix/client/v3/login", "", nil)
		wantOK(t, flows)
		var listed struct {
			Flows []struct {
				Type          string `json:"type"`
				GetLoginToken bool   `json:"get_login_token"`
			} `json:"flows"`
		}
		flows.decode(t, &listed)
		found := false
		for _, f := range listed.Flows {
			found = found || f.Type == "m.login.token" && f.GetLoginToken
		}
		if !found {
			t.Errorf("GET /login lists no m.login.token flow with get_login_token: %s", flows.Body)
		}
		caps, err := alice.Capabilities(ctx)
		if err != nil || caps.GetLoginToken == nil || !caps.GetLoginToken.Enabled {
			t.Errorf("capabilities = %+v, %v; want m.get_login_token enabled", caps, err)
		}
	})
}
