package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

const registerPath = "/_matrix/client/v3/register"

// wantAvailable fails the test unless localpart can still be registered.
func wantAvailable(t *testing.T, ts *testServer, localpart string) {
	t.Helper()
	r := ts.do(t, http.MethodGet, "/_matrix/client/v3/register/available?username="+url.QueryEscape(localpart), "", nil)
	if r.Status != 200 || r.object(t)["available"] != true {
		t.Errorf("%s is no longer available after a refused registration: %d %s", localpart, r.Status, r.Body)
	}
}

// TestRegistrationOpen covers POST /register with open registration (m.login.dummy) and its
// refusals (data/api/client-server/registration.yaml).
func TestRegistrationOpen(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		ts.register(t, "alice")
		dummy := map[string]any{"type": "m.login.dummy"}

		t.Run("flows, then the dummy stage", func(t *testing.T) {
			u := wantUIA(t, ts.do(t, http.MethodPost, registerPath, "", map[string]any{}), "m.login.dummy", "")
			r := ts.do(t, http.MethodPost, registerPath, "", map[string]any{
				"username": "bob", "password": password, "device_id": "BOBPHONE", "initial_device_display_name": "Bob's phone",
				"auth": map[string]any{"type": "m.login.dummy", "session": u.Session}})
			wantOK(t, r)
			var resp mautrix.RespRegister
			r.decode(t, &resp)
			if resp.UserID != "@bob:localhost" || resp.AccessToken == "" || resp.DeviceID != "BOBPHONE" {
				t.Errorf("register response = %s", r.Body)
			}
			if m := r.object(t); m["refresh_token"] != nil || m["expires_in_ms"] != nil {
				t.Errorf("registration without refresh_token returned %s", r.Body)
			}
			r = ts.do(t, http.MethodGet, "/_matrix/client/v3/devices/BOBPHONE", resp.AccessToken, nil)
			wantOK(t, r)
			if got := r.object(t)["display_name"]; got != "Bob's phone" {
				t.Errorf("device display name = %v, want the initial_device_display_name", got)
			}
		})
		t.Run("inhibit_login", func(t *testing.T) {
			r := ts.do(t, http.MethodPost, registerPath, "", map[string]any{
				"username": "quiet", "password": password, "inhibit_login": true, "refresh_token": true, "auth": dummy})
			wantOK(t, r)
			m := r.object(t)
			if m["user_id"] != "@quiet:localhost" {
				t.Errorf("user_id = %v", m["user_id"])
			}
			for _, k := range []string{"access_token", "device_id", "refresh_token", "expires_in_ms"} {
				if _, ok := m[k]; ok {
					t.Errorf("inhibit_login response has %s: %s", k, r.Body)
				}
			}
			cli := ts.login(t, "@quiet:localhost", password)
			devices, err := cli.GetDevicesInfo(context.Background())
			if err != nil || len(devices.Devices) != 1 {
				t.Errorf("devices after inhibit_login and one login = %+v, %v; want only the login's", devices, err)
			}
		})

		tests := []struct {
			name    string
			query   string
			body    map[string]any
			status  int
			errcode string
		}{
			{"username taken, before auth", "", map[string]any{"username": "alice", "password": password}, 400, "M_USER_IN_USE"},
			{"username taken, with auth", "", map[string]any{"username": "alice", "password": password, "auth": dummy}, 400, "M_USER_IN_USE"},
			{"username taken in another case", "", map[string]any{"username": "ALICE", "password": password, "auth": dummy}, 400, "M_USER_IN_USE"},
			{"full user ID as username", "", map[string]any{"username": "@carol:localhost", "password": password, "auth": dummy}, 400, "M_INVALID_USERNAME"},
			{"username with a space", "", map[string]any{"username": "car ol", "password": password, "auth": dummy}, 400, "M_INVALID_USERNAME"},
			{"username with a colon", "", map[string]any{"username": "car:ol", "password": password, "auth": dummy}, 400, "M_INVALID_USERNAME"},
			{"numeric username", "", map[string]any{"username": "12345", "password": password, "auth": dummy}, 400, "M_INVALID_USERNAME"},
			{"reserved underscore", "", map[string]any{"username": "_bridge", "password": password, "auth": dummy}, 400, "M_INVALID_USERNAME"},
			{"overlong username", "", map[string]any{"username": strings.Repeat("c", 300), "password": password, "auth": dummy}, 400, "M_INVALID_USERNAME"},
			{"no password", "", map[string]any{"username": "carol", "auth": dummy}, 400, "M_MISSING_PARAM"},
			{"overlong password", "", map[string]any{"username": "carol", "password": strings.Repeat("p", 600), "auth": dummy}, 400, "M_INVALID_PARAM"},
			{"guest", "?kind=guest", map[string]any{}, 403, "M_GUEST_ACCESS_FORBIDDEN"},
			{"unknown kind", "?kind=admin", map[string]any{"username": "carol", "password": password, "auth": dummy}, 400, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodPost, registerPath+tc.query, "", tc.body), tc.status, tc.errcode)
			})
		}
		wantAvailable(t, ts, "carol")

		t.Run("register/available", func(t *testing.T) {
			tests := []struct {
				username string
				status   int
				errcode  string
			}{
				{"dave", 200, ""},
				{"alice", 400, "M_USER_IN_USE"},
				{"Alice", 400, "M_USER_IN_USE"},
				{"no good", 400, "M_INVALID_USERNAME"},
				{"", 400, "M_MISSING_PARAM"},
			}
			for _, tc := range tests {
				r := ts.do(t, http.MethodGet, "/_matrix/client/v3/register/available?username="+url.QueryEscape(tc.username), "", nil)
				if tc.status == 200 {
					wantOK(t, r)
					if r.object(t)["available"] != true {
						t.Errorf("available(%q) = %s", tc.username, r.Body)
					}
					continue
				}
				wantError(t, r, tc.status, tc.errcode)
			}
		})
	})
}

// TestRegistrationToken covers token-authenticated registration (m.login.registration_token)
// and the validity endpoint (data/api/client-server/registration_tokens.yaml).
func TestRegistrationToken(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn, func(c *config.Config) { c.Registration.Mode = config.RegistrationToken })
		one := int64(1)
		token, err := ts.srv.Accounts.CreateRegistrationToken(ctx, &one, nil)
		if err != nil {
			t.Fatal(err)
		}
		validity := func(tok string) apiResponse {
			return ts.do(t, http.MethodGet, "/_matrix/client/v1/register/m.login.registration_token/validity?token="+url.QueryEscape(tok), "", nil)
		}
		wantValid := func(tok string, want bool) {
			t.Helper()
			r := validity(tok)
			wantOK(t, r)
			if got := r.object(t)["valid"]; got != want {
				t.Errorf("validity of %q = %v, want %v", tok, got, want)
			}
		}
		wantValid(token, true)
		wantValid("nosuchtoken", false)
		wantError(t, validity(""), 400, "M_MISSING_PARAM")

		// The dummy stage is not offered, and registering without the token is refused.
		u := wantUIA(t, ts.do(t, http.MethodPost, registerPath, "", map[string]any{"username": "alice", "password": password}), "m.login.registration_token", "")
		r := ts.do(t, http.MethodPost, registerPath, "", map[string]any{"username": "alice", "password": password,
			"auth": map[string]any{"type": "m.login.dummy", "session": u.Session}})
		wantUIA(t, r, "m.login.registration_token", "M_FORBIDDEN")
		r = ts.do(t, http.MethodPost, registerPath, "", map[string]any{"username": "alice", "password": password,
			"auth": map[string]any{"type": "m.login.registration_token", "token": "wrong", "session": u.Session}})
		wantUIA(t, r, "m.login.registration_token", "M_UNAUTHORIZED")
		wantAvailable(t, ts, "alice")
		wantValid(token, true)

		// The right token, in the same session.
		r = ts.do(t, http.MethodPost, registerPath, "", map[string]any{"username": "alice", "password": password,
			"auth": map[string]any{"type": "m.login.registration_token", "token": token, "session": u.Session}})
		wantOK(t, r)
		if r.object(t)["user_id"] != "@alice:localhost" {
			t.Errorf("register response = %s", r.Body)
		}
		wantValid(token, false)

		// A one-use token cannot register a second account.
		r = ts.do(t, http.MethodPost, registerPath, "", map[string]any{"username": "bob", "password": password,
			"auth": map[string]any{"type": "m.login.registration_token", "token": token}})
		wantUIA(t, r, "m.login.registration_token", "M_UNAUTHORIZED")
		wantAvailable(t, ts, "bob")
	})
}

// TestRegistrationClosed checks that a closed server refuses every registration.
func TestRegistrationClosed(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn, func(c *config.Config) { c.Registration.Mode = config.RegistrationClosed })
		tests := []struct {
			name string
			body map[string]any
		}{
			{"flows", map[string]any{}},
			{"dummy stage", map[string]any{"username": "alice", "password": password, "auth": map[string]any{"type": "m.login.dummy"}}},
			{"token stage", map[string]any{"username": "alice", "password": password, "auth": map[string]any{"type": "m.login.registration_token", "token": "x"}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodPost, registerPath, "", tc.body), 403, "M_FORBIDDEN")
			})
		}
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v1/register/m.login.registration_token/validity?token=x", "", nil), 403, "M_FORBIDDEN")
	})
}

// TestLogin covers password login, its identifier forms and refusals, logout and whoami
// (login.yaml, logout.yaml, whoami.yaml).
func TestLogin(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		const loginPath = "/_matrix/client/v3/login"

		r := ts.do(t, http.MethodGet, loginPath, "", nil)
		wantOK(t, r)
		var flows mautrix.RespLoginFlows
		r.decode(t, &flows)
		if !flows.HasFlow(mautrix.AuthTypePassword) {
			t.Errorf("login flows = %s, want m.login.password", r.Body)
		}

		withUser := func(user string) map[string]any {
			return map[string]any{"type": "m.login.password", "password": password, "identifier": map[string]any{"type": "m.id.user", "user": user}}
		}
		tests := []struct {
			name    string
			body    map[string]any
			status  int
			errcode string
		}{
			{"localpart", withUser("alice"), 200, ""},
			{"full user ID", withUser("@alice:localhost"), 200, ""},
			{"localpart in upper case", withUser("ALICE"), 200, ""},
			{"legacy user field", map[string]any{"type": "m.login.password", "user": "alice", "password": password}, 200, ""},
			{"legacy user field with full ID", map[string]any{"type": "m.login.password", "user": "@alice:localhost", "password": password}, 200, ""},
			{"wrong password", map[string]any{"type": "m.login.password", "password": "wrong", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}}, 403, "M_FORBIDDEN"},
			{"empty password", map[string]any{"type": "m.login.password", "password": "", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}}, 403, "M_FORBIDDEN"},
			{"unknown user", withUser("nobody"), 403, "M_FORBIDDEN"},
			{"user of another server", withUser("@alice:elsewhere.example"), 403, "M_FORBIDDEN"},
			{"third-party identifier", map[string]any{"type": "m.login.password", "password": password,
				"identifier": map[string]any{"type": "m.id.thirdparty", "medium": "email", "address": "alice@example.com"}}, 403, "M_FORBIDDEN"},
			{"unknown identifier type", map[string]any{"type": "m.login.password", "password": password,
				"identifier": map[string]any{"type": "m.id.fancy", "user": "alice"}}, 400, "M_INVALID_PARAM"},
			{"no user", map[string]any{"type": "m.login.password", "password": password}, 400, "M_MISSING_PARAM"},
			{"unknown login type", map[string]any{"type": "m.login.fancy", "user": "alice", "password": password}, 400, "M_UNKNOWN"},
			{"token login with a token never issued", map[string]any{"type": "m.login.token", "token": "abc"}, 403, "M_FORBIDDEN"},
			{"no login type", map[string]any{"user": "alice", "password": password}, 400, "M_UNKNOWN"},
		}
		var wrongPasswordError string
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, http.MethodPost, loginPath, "", tc.body)
				if tc.status == 200 {
					wantOK(t, r)
					var resp mautrix.RespLogin
					r.decode(t, &resp)
					if resp.UserID != alice.UserID || resp.AccessToken == "" || resp.DeviceID == "" {
						t.Errorf("login response = %s", r.Body)
					}
					return
				}
				wantError(t, r, tc.status, tc.errcode)
				msg, _ := r.object(t)["error"].(string)
				switch tc.name {
				case "wrong password":
					wrongPasswordError = msg
				case "unknown user":
					// The same answer, so that logins cannot tell which accounts exist.
					if msg != wrongPasswordError {
						t.Errorf("unknown user error %q differs from wrong password error %q", msg, wrongPasswordError)
					}
				}
			})
		}

		t.Run("whoami", func(t *testing.T) {
			r := ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", alice.AccessToken, nil)
			wantOK(t, r)
			m := r.object(t)
			if m["user_id"] != alice.UserID.String() || m["device_id"] != alice.DeviceID.String() || m["is_guest"] != false {
				t.Errorf("whoami = %s", r.Body)
			}
		})
		t.Run("login on an existing device ID", func(t *testing.T) {
			body := withUser("alice")
			body["device_id"] = "REUSED"
			first := ts.do(t, http.MethodPost, loginPath, "", body)
			wantOK(t, first)
			second := ts.do(t, http.MethodPost, loginPath, "", body)
			wantOK(t, second)
			firstToken, _ := first.object(t)["access_token"].(string)
			secondToken, _ := second.object(t)["access_token"].(string)
			if second.object(t)["device_id"] != "REUSED" {
				t.Errorf("second login device_id = %v", second.object(t)["device_id"])
			}
			wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", firstToken, nil), 401, "M_UNKNOWN_TOKEN")
			wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", secondToken, nil))
		})
		t.Run("logout", func(t *testing.T) {
			phone := ts.login(t, alice.UserID, password)
			laptop := ts.login(t, alice.UserID, password)
			if _, err := phone.Logout(ctx); err != nil {
				t.Fatal(err)
			}
			r := ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", phone.AccessToken, nil)
			wantError(t, r, 401, "M_UNKNOWN_TOKEN")
			if r.object(t)["soft_logout"] == true {
				t.Errorf("a logged-out token is a soft logout: %s", r.Body)
			}
			wantError(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/logout", phone.AccessToken, nil), 401, "M_UNKNOWN_TOKEN")
			wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", laptop.AccessToken, nil))
			wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/devices/"+phone.DeviceID.String(), laptop.AccessToken, nil), 404, "M_NOT_FOUND")
		})
		t.Run("logout/all", func(t *testing.T) {
			phone := ts.login(t, alice.UserID, password)
			if _, err := phone.LogoutAll(ctx); err != nil {
				t.Fatal(err)
			}
			for _, token := range []string{phone.AccessToken, alice.AccessToken} {
				wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", token, nil), 401, "M_UNKNOWN_TOKEN")
			}
			// The account itself is intact.
			cli := ts.login(t, alice.UserID, password)
			devices, err := cli.GetDevicesInfo(ctx)
			if err != nil || len(devices.Devices) != 1 {
				t.Errorf("devices after logout/all and one login = %+v, %v", devices, err)
			}
		})
	})
}

// TestRefreshTokens covers refresh tokens (data/api/client-server/refresh.yaml): issuing,
// rotating and revoking.
func TestRefreshTokens(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		ts.register(t, "alice") // the account the logins below use
		login := func(refresh bool) map[string]any {
			t.Helper()
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
				"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"},
				"password": password, "refresh_token": refresh})
			wantOK(t, r)
			return r.object(t)
		}
		type pair struct{ access, refresh string }
		refresh := func(token string) (pair, apiResponse) {
			t.Helper()
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": token})
			if r.Status != 200 {
				return pair{}, r
			}
			m := r.object(t)
			p := pair{access: m["access_token"].(string), refresh: m["refresh_token"].(string)}
			if ms, _ := m["expires_in_ms"].(float64); ms != float64(5*time.Minute/time.Millisecond) {
				t.Errorf("refresh expires_in_ms = %v, want the 5 minute default", m["expires_in_ms"])
			}
			return p, r
		}
		whoami := func(token string) apiResponse {
			return ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", token, nil)
		}

		plain := login(false)
		if _, ok := plain["refresh_token"]; ok {
			t.Errorf("login without refresh_token returned one: %v", plain)
		}
		if _, ok := plain["expires_in_ms"]; ok {
			t.Errorf("login without refresh_token returned expires_in_ms: %v", plain)
		}
		m := login(true)
		first := pair{access: m["access_token"].(string)}
		first.refresh, _ = m["refresh_token"].(string)
		if first.refresh == "" || m["expires_in_ms"] != float64(5*time.Minute/time.Millisecond) {
			t.Fatalf("login with refresh_token = %v, want a refresh token and expires_in_ms", m)
		}
		wantOK(t, whoami(first.access))

		// A refresh whose answer was lost can be repeated; the lost pair is revoked.
		lost, r := refresh(first.refresh)
		wantOK(t, r)
		second, r := refresh(first.refresh)
		wantOK(t, r)
		if second == lost || second.access == first.access {
			t.Fatal("a refresh returned the same tokens twice")
		}
		wantError(t, whoami(lost.access), 401, "M_UNKNOWN_TOKEN")
		_, r = refresh(lost.refresh)
		wantError(t, r, 401, "M_UNKNOWN_TOKEN")

		// Using the new access token revokes the refresh token it replaced.
		wantOK(t, whoami(second.access))
		_, r = refresh(first.refresh)
		wantError(t, r, 401, "M_UNKNOWN_TOKEN")
		if sl := r.object(t)["soft_logout"]; sl == true {
			t.Errorf("a revoked refresh token is a soft logout: %s", r.Body)
		}

		// So does using the new refresh token.
		third, r := refresh(second.refresh)
		wantOK(t, r)
		fourth, r := refresh(third.refresh)
		wantOK(t, r)
		_, r = refresh(second.refresh)
		wantError(t, r, 401, "M_UNKNOWN_TOKEN")
		wantOK(t, whoami(fourth.access))
		if got := whoami(fourth.access).object(t)["device_id"]; got != m["device_id"] {
			t.Errorf("refreshed token's device = %v, want the login's %v", got, m["device_id"])
		}

		// Unknown, empty and logged-out refresh tokens.
		_, r = refresh("cwr_nosuchtoken")
		wantError(t, r, 401, "M_UNKNOWN_TOKEN")
		wantError(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/refresh", "", map[string]any{}), 400, "M_MISSING_PARAM")
		wantOK(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/logout", fourth.access, nil))
		_, r = refresh(fourth.refresh)
		wantError(t, r, 401, "M_UNKNOWN_TOKEN")

		// Registration can ask for a refresh token too.
		r = ts.do(t, http.MethodPost, registerPath, "", map[string]any{"username": "bob", "password": password,
			"refresh_token": true, "auth": map[string]any{"type": "m.login.dummy"}})
		wantOK(t, r)
		if reg := r.object(t); reg["refresh_token"] == nil || reg["expires_in_ms"] == nil {
			t.Errorf("register with refresh_token = %s", r.Body)
		}
	})
}

// TestExpiredAccessToken checks that an expired access token is M_UNKNOWN_TOKEN with
// soft_logout ("Soft logout" in content/client-server-api/_index.md) and that a refresh
// recovers the session.
func TestExpiredAccessToken(t *testing.T) {
	const lifetime = time.Second
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.ClientAPI.RefreshTokenAccessLifetime = config.Duration(lifetime)
			c.ClientAPI.AccessTokenLifetime = config.Duration(lifetime)
		})
		ts.register(t, "alice")
		login := func(refresh bool) map[string]any {
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
				"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"},
				"password": password, "refresh_token": refresh})
			wantOK(t, r)
			m := r.object(t)
			if m["expires_in_ms"] != float64(lifetime/time.Millisecond) {
				t.Errorf("expires_in_ms = %v, want %d", m["expires_in_ms"], lifetime/time.Millisecond)
			}
			return m
		}
		withRefresh, withoutRefresh := login(true), login(false)
		time.Sleep(lifetime + 100*time.Millisecond)

		for _, m := range []map[string]any{withRefresh, withoutRefresh} {
			r := ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", m["access_token"].(string), nil)
			wantError(t, r, 401, "M_UNKNOWN_TOKEN")
			if r.object(t)["soft_logout"] != true {
				t.Errorf("expired token answer lacks soft_logout: %s", r.Body)
			}
		}
		r := ts.do(t, http.MethodPost, "/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": withRefresh["refresh_token"]})
		wantOK(t, r)
		fresh, _ := r.object(t)["access_token"].(string)
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", fresh, nil))
	})
}

// TestChangePassword covers POST /account/password (password_management.yaml): UIA with the
// old password, other devices logged out unless logout_devices is false, the current one kept.
func TestChangePassword(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		phone := ts.login(t, alice.UserID, password)
		const path = "/_matrix/client/v3/account/password"
		const newPassword = "tr0ub4dor&3"

		u := wantUIA(t, ts.do(t, http.MethodPost, path, alice.AccessToken, map[string]any{"new_password": newPassword}), "m.login.password", "")
		r := ts.do(t, http.MethodPost, path, alice.AccessToken, map[string]any{
			"new_password": newPassword, "auth": passwordAuth(alice.UserID, "not it", u.Session)})
		wantUIA(t, r, "m.login.password", "M_FORBIDDEN")
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", phone.AccessToken, nil))

		wantOK(t, ts.do(t, http.MethodPost, path, alice.AccessToken, map[string]any{
			"new_password": newPassword, "auth": passwordAuth(alice.UserID, password, u.Session)}))
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", alice.AccessToken, nil))
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", phone.AccessToken, nil), 401, "M_UNKNOWN_TOKEN")
		devices, err := alice.GetDevicesInfo(ctx)
		if err != nil || len(devices.Devices) != 1 || devices.Devices[0].DeviceID != alice.DeviceID {
			t.Errorf("devices after the change = %+v, %v; want only the current one", devices, err)
		}
		wantError(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
			"type": "m.login.password", "user": "alice", "password": password}), 403, "M_FORBIDDEN")
		tablet := ts.login(t, alice.UserID, newPassword)

		// logout_devices: false keeps the other devices; auth may come in the first request.
		wantOK(t, ts.do(t, http.MethodPost, path, alice.AccessToken, map[string]any{
			"new_password": password, "logout_devices": false, "auth": passwordAuth(alice.UserID, newPassword, "")}))
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", tablet.AccessToken, nil))
		ts.login(t, alice.UserID, password)

		// A missing or unusable new password is refused after authentication.
		wantError(t, ts.do(t, http.MethodPost, path, alice.AccessToken, map[string]any{
			"auth": passwordAuth(alice.UserID, password, "")}), 400, "M_MISSING_PARAM")
		wantError(t, ts.do(t, http.MethodPost, path, alice.AccessToken, map[string]any{
			"new_password": strings.Repeat("x", 600), "auth": passwordAuth(alice.UserID, password, "")}), 400, "M_INVALID_PARAM")
		ts.login(t, alice.UserID, password)
	})
}

// TestDeactivate covers POST /account/deactivate (account_deactivation.yaml): UIA, the
// account's tokens and login gone, and the user gone from their rooms and invites.
func TestDeactivate(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
		mustJoin(t, bob, string(roomID))
		invitedTo := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
		since := ts.sync(t, alice, url.Values{}).NextBatch
		const path = "/_matrix/client/v3/account/deactivate"

		u := wantUIA(t, ts.do(t, http.MethodPost, path, bob.AccessToken, map[string]any{}), "m.login.password", "")
		wantUIA(t, ts.do(t, http.MethodPost, path, bob.AccessToken, map[string]any{
			"auth": passwordAuth(bob.UserID, "not it", u.Session)}), "m.login.password", "M_FORBIDDEN")
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", bob.AccessToken, nil))

		r := ts.do(t, http.MethodPost, path, bob.AccessToken, map[string]any{"auth": passwordAuth(bob.UserID, password, u.Session)})
		wantOK(t, r)
		if got := r.object(t)["id_server_unbind_result"]; got != "no-support" {
			t.Errorf("id_server_unbind_result = %v, want no-support", got)
		}

		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", bob.AccessToken, nil), 401, "M_UNKNOWN_TOKEN")
		wantError(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
			"type": "m.login.password", "user": "bob", "password": password}), 403, "M_USER_DEACTIVATED")
		wantError(t, ts.do(t, http.MethodPost, registerPath, "", map[string]any{
			"username": "bob", "password": password, "auth": map[string]any{"type": "m.login.dummy"}}), 400, "M_USER_IN_USE")
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/profile/"+url.PathEscape(bob.UserID.String()), alice.AccessToken, nil), 404, "M_NOT_FOUND")

		// Bob left the room he was in and rejected the invite he had.
		resp := ts.sync(t, alice, url.Values{"since": {since}, "timeout": {"0"}})
		jr := resp.Rooms.Join[roomID]
		if jr == nil {
			t.Fatalf("alice's sync has nothing from %s", roomID)
		}
		if ev := memberEvent(jr.Timeline.Events, bob.UserID); ev == nil || ev.Content.Raw["membership"] != "leave" || ev.Sender != bob.UserID {
			t.Errorf("alice's timeline does not show bob leaving: %+v", jr.Timeline.Events)
		}
		for _, r := range []id.RoomID{roomID, invitedTo} {
			members, err := alice.Members(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if ev := memberEvent(members.Chunk, bob.UserID); ev == nil || ev.Content.Raw["membership"] != "leave" {
				t.Errorf("bob's membership in %s after deactivation = %+v, want leave", r, ev)
			}
		}
		joined, err := alice.JoinedMembers(ctx, roomID)
		if err != nil || len(joined.Joined) != 1 {
			t.Errorf("joined members after bob's deactivation = %+v, %v", joined, err)
		}
	})
}

// TestDevices covers the device management endpoints (device_management.yaml).
func TestDevices(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		loginDevice := func(deviceID, name string) string {
			t.Helper()
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
				"type": "m.login.password", "user": "alice", "password": password,
				"device_id": deviceID, "initial_device_display_name": name})
			wantOK(t, r)
			return r.object(t)["access_token"].(string)
		}
		phoneToken := loginDevice("PHONE", "Phone")
		loginDevice("TABLET", "Tablet")
		loginDevice("WATCH", "Watch")
		dev := func(deviceID string) string { return "/_matrix/client/v3/devices/" + url.PathEscape(deviceID) }

		devices, err := alice.GetDevicesInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []id.DeviceID
		for _, d := range devices.Devices {
			ids = append(ids, d.DeviceID)
		}
		slices.Sort(ids)
		if want := []id.DeviceID{alice.DeviceID, "PHONE", "TABLET", "WATCH"}; !slices.Equal(ids, slices.Sorted(slices.Values(want))) {
			t.Errorf("devices = %v, want %v", ids, want)
		}

		info, err := alice.GetDeviceInfo(ctx, "PHONE")
		if err != nil || info.DisplayName != "Phone" || info.DeviceID != "PHONE" {
			t.Errorf("device PHONE = %+v, %v", info, err)
		}
		wantOK(t, ts.do(t, http.MethodPut, dev("PHONE"), alice.AccessToken, map[string]any{"display_name": "Old phone"}))
		if info, err := alice.GetDeviceInfo(ctx, "PHONE"); err != nil || info.DisplayName != "Old phone" {
			t.Errorf("renamed device = %+v, %v", info, err)
		}

		tests := []struct {
			name    string
			method  string
			path    string
			token   string
			body    any
			status  int
			errcode string
		}{
			{"get unknown device", http.MethodGet, dev("NOPE"), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"rename unknown device", http.MethodPut, dev("NOPE"), alice.AccessToken, map[string]any{"display_name": "x"}, 404, "M_NOT_FOUND"},
			{"delete unknown device", http.MethodDelete, dev("NOPE"), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"get another user's device", http.MethodGet, dev(bob.DeviceID.String()), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"rename another user's device", http.MethodPut, dev("PHONE"), bob.AccessToken, map[string]any{"display_name": "mine"}, 404, "M_NOT_FOUND"},
			{"overlong name", http.MethodPut, dev("PHONE"), alice.AccessToken, map[string]any{"display_name": strings.Repeat("n", 101)}, 400, "M_INVALID_PARAM"},
			{"name of the wrong type", http.MethodPut, dev("PHONE"), alice.AccessToken, map[string]any{"display_name": 5}, 400, "M_BAD_JSON"},
			{"delete_devices without devices", http.MethodPost, "/_matrix/client/v3/delete_devices", alice.AccessToken, map[string]any{}, 400, "M_MISSING_PARAM"},
			{"delete with a malformed body", http.MethodDelete, dev("PHONE"), alice.AccessToken, rawBody("{"), 400, "M_NOT_JSON"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, tc.token, tc.body), tc.status, tc.errcode)
			})
		}
		if info, err := alice.GetDeviceInfo(ctx, "PHONE"); err != nil || info.DisplayName != "Old phone" {
			t.Errorf("device after refused renames = %+v, %v", info, err)
		}

		t.Run("delete one device", func(t *testing.T) {
			u := wantUIA(t, ts.do(t, http.MethodDelete, dev("PHONE"), alice.AccessToken, nil), "m.login.password", "")
			wantUIA(t, ts.do(t, http.MethodDelete, dev("PHONE"), alice.AccessToken, map[string]any{
				"auth": passwordAuth(alice.UserID, "wrong", u.Session)}), "m.login.password", "M_FORBIDDEN")
			wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", phoneToken, nil))
			wantOK(t, ts.do(t, http.MethodDelete, dev("PHONE"), alice.AccessToken, map[string]any{
				"auth": passwordAuth(alice.UserID, password, u.Session)}))
			wantError(t, ts.do(t, http.MethodGet, dev("PHONE"), alice.AccessToken, nil), 404, "M_NOT_FOUND")
			wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", phoneToken, nil), 401, "M_UNKNOWN_TOKEN")
		})
		t.Run("delete several devices", func(t *testing.T) {
			body := map[string]any{"devices": []string{"TABLET", "WATCH", "ALREADYGONE"}}
			u := wantUIA(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/delete_devices", alice.AccessToken, body), "m.login.password", "")
			body["auth"] = passwordAuth(alice.UserID, password, u.Session)
			wantOK(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/delete_devices", alice.AccessToken, body))
			devices, err := alice.GetDevicesInfo(ctx)
			if err != nil || len(devices.Devices) != 1 || devices.Devices[0].DeviceID != alice.DeviceID {
				t.Errorf("devices after delete_devices = %+v, %v", devices, err)
			}
		})
		// Bob's device was never touched.
		wantOK(t, ts.do(t, http.MethodGet, dev(bob.DeviceID.String()), bob.AccessToken, nil))
	})
}

// TestProfile covers the profile endpoints (profile.yaml) and the member events a profile
// change sends into the user's rooms.
func TestProfile(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		since := ts.sync(t, bob, url.Values{}).NextBatch
		profile := func(user id.UserID, field string) string {
			p := "/_matrix/client/v3/profile/" + url.PathEscape(user.String())
			if field != "" {
				p += "/" + field
			}
			return p
		}

		wantOK(t, ts.do(t, http.MethodPut, profile(alice.UserID, "displayname"), alice.AccessToken, map[string]any{"displayname": "Alice A."}))
		wantOK(t, ts.do(t, http.MethodPut, profile(alice.UserID, "avatar_url"), alice.AccessToken, map[string]any{"avatar_url": "mxc://localhost/abc"}))

		tests := []struct {
			name    string
			method  string
			path    string
			token   string
			body    any
			status  int
			errcode string
		}{
			{"set another user's display name", http.MethodPut, profile(bob.UserID, "displayname"), alice.AccessToken, map[string]any{"displayname": "Bobby"}, 403, "M_FORBIDDEN"},
			{"set another user's avatar", http.MethodPut, profile(bob.UserID, "avatar_url"), alice.AccessToken, map[string]any{"avatar_url": "mxc://localhost/x"}, 403, "M_FORBIDDEN"},
			{"avatar that is not an mxc URI", http.MethodPut, profile(alice.UserID, "avatar_url"), alice.AccessToken, map[string]any{"avatar_url": "https://example.com/a.png"}, 400, "M_INVALID_PARAM"},
			{"avatar without a media ID", http.MethodPut, profile(alice.UserID, "avatar_url"), alice.AccessToken, map[string]any{"avatar_url": "mxc://localhost"}, 400, "M_INVALID_PARAM"},
			{"display name of the wrong type", http.MethodPut, profile(alice.UserID, "displayname"), alice.AccessToken, map[string]any{"displayname": 5}, 400, "M_BAD_JSON"},
			{"field missing from the body", http.MethodPut, profile(alice.UserID, "displayname"), alice.AccessToken, map[string]any{"avatar_url": "mxc://localhost/x"}, 400, "M_MISSING_PARAM"},
			{"set without a token", http.MethodPut, profile(alice.UserID, "displayname"), "", map[string]any{"displayname": "x"}, 401, "M_MISSING_TOKEN"},
			{"unknown user", http.MethodGet, profile("@nobody:localhost", ""), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"unknown user's field", http.MethodGet, profile("@nobody:localhost", "displayname"), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"unset field", http.MethodGet, profile(bob.UserID, "avatar_url"), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"unknown field", http.MethodGet, profile(alice.UserID, "org.example.nope"), alice.AccessToken, nil, 404, "M_NOT_FOUND"},
			{"invalid user ID", http.MethodGet, profile("nobody", ""), alice.AccessToken, nil, 400, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, tc.token, tc.body), tc.status, tc.errcode)
			})
		}

		p, err := bob.GetProfile(ctx, alice.UserID)
		if err != nil || p.DisplayName != "Alice A." || p.AvatarURL.String() != "mxc://localhost/abc" {
			t.Errorf("alice's profile = %+v, %v", p, err)
		}
		r := ts.do(t, http.MethodGet, profile(alice.UserID, "displayname"), bob.AccessToken, nil)
		wantOK(t, r)
		if got := r.object(t)["displayname"]; got != "Alice A." {
			t.Errorf("displayname field = %v", got)
		}
		r = ts.do(t, http.MethodGet, profile(bob.UserID, ""), alice.AccessToken, nil)
		wantOK(t, r)
		if m := r.object(t); m["displayname"] != "bob" || m["avatar_url"] != nil {
			t.Errorf("bob's untouched profile = %s", r.Body)
		}

		// Bob sees both changes as member events of alice, each with the previous content.
		resp := ts.sync(t, bob, url.Values{"since": {since}, "timeout": {"0"}})
		jr := resp.Rooms.Join[roomID]
		if jr == nil {
			t.Fatalf("bob's sync has nothing from %s", roomID)
		}
		var changes []*event.Event
		for _, ev := range jr.Timeline.Events {
			if ev.Type == event.StateMember && ev.GetStateKey() == alice.UserID.String() {
				changes = append(changes, ev)
			}
		}
		if len(changes) != 2 {
			t.Fatalf("%d member events of alice in bob's sync, want 2: %+v", len(changes), jr.Timeline.Events)
		}
		name, avatar := changes[0], changes[1]
		if name.Content.Raw["displayname"] != "Alice A." || name.Content.Raw["membership"] != "join" {
			t.Errorf("first member event content = %v", name.Content.Raw)
		}
		if name.Unsigned.PrevContent == nil || name.Unsigned.PrevContent.Raw["displayname"] != "alice" {
			t.Errorf("first member event prev_content = %+v, want the old display name", name.Unsigned.PrevContent)
		}
		if avatar.Content.Raw["avatar_url"] != "mxc://localhost/abc" || avatar.Content.Raw["displayname"] != "Alice A." {
			t.Errorf("second member event content = %v", avatar.Content.Raw)
		}
		if avatar.Unsigned.PrevContent == nil || avatar.Unsigned.PrevContent.Raw["avatar_url"] != nil {
			t.Errorf("second member event prev_content = %+v, want no avatar", avatar.Unsigned.PrevContent)
		}
		members, err := bob.JoinedMembers(ctx, roomID)
		if err != nil || members.Joined[alice.UserID].DisplayName != "Alice A." || members.Joined[alice.UserID].AvatarURL != "mxc://localhost/abc" {
			t.Errorf("joined_members = %+v, %v", members, err)
		}

		// The refused changes sent nothing.
		resp = ts.sync(t, bob, url.Values{"since": {resp.NextBatch}, "timeout": {"0"}})
		if jr := resp.Rooms.Join[roomID]; jr != nil && len(jr.Timeline.Events) > 0 {
			t.Errorf("refused profile changes sent events: %+v", jr.Timeline.Events)
		}

		// Clearing the display name.
		wantOK(t, ts.do(t, http.MethodPut, profile(alice.UserID, "displayname"), alice.AccessToken, map[string]any{"displayname": nil}))
		wantError(t, ts.do(t, http.MethodGet, profile(alice.UserID, "displayname"), bob.AccessToken, nil), 404, "M_NOT_FOUND")

		// Deleting fields: the avatar goes; a field that does not exist is already gone.
		wantError(t, ts.do(t, http.MethodDelete, profile(alice.UserID, "avatar_url"), bob.AccessToken, nil), 403, "M_FORBIDDEN")
		wantError(t, ts.do(t, http.MethodDelete, profile(alice.UserID, "Not A Key"), alice.AccessToken, nil), 400, "M_INVALID_PARAM")
		wantOK(t, ts.do(t, http.MethodDelete, profile(alice.UserID, "avatar_url"), alice.AccessToken, nil))
		wantError(t, ts.do(t, http.MethodGet, profile(alice.UserID, "avatar_url"), bob.AccessToken, nil), 404, "M_NOT_FOUND")
		wantOK(t, ts.do(t, http.MethodDelete, profile(alice.UserID, "org.example.pronouns"), alice.AccessToken, nil))
		if members, err := bob.JoinedMembers(ctx, roomID); err != nil || members.Joined[alice.UserID].AvatarURL != "" {
			t.Errorf("alice's member event after deleting her avatar: %+v, %v", members.Joined[alice.UserID], err)
		}
	})
}
