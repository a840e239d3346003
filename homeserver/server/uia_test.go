package server_test

import (
	"net/http"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// uiaResponse is the 401 body of user-interactive authentication
// (data/api/client-server/definitions/auth_response.yaml).
type uiaResponse struct {
	Flows []struct {
		Stages []string `json:"stages"`
	} `json:"flows"`
	Params    map[string]any `json:"params"`
	Session   string         `json:"session"`
	Completed []string       `json:"completed"`
	ErrCode   string         `json:"errcode"`
	Error     string         `json:"error"`
}

// wantUIA fails the test now unless r is a UIA challenge offering exactly the one-stage flow
// stage, with the given errcode ("" for none) and completed stages, and returns it.
func wantUIA(t *testing.T, r apiResponse, stage, errcode string, completed ...string) uiaResponse {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("got %d, want a 401 UIA challenge; body: %s", r.Status, r.Body)
	}
	var u uiaResponse
	r.decode(t, &u)
	if len(u.Flows) != 1 || !slices.Equal(u.Flows[0].Stages, []string{stage}) {
		t.Errorf("flows = %+v, want one flow [%s]; body: %s", u.Flows, stage, r.Body)
	}
	if u.Session == "" {
		t.Errorf("UIA challenge without a session: %s", r.Body)
	}
	if u.Params == nil {
		t.Errorf("UIA challenge without params: %s", r.Body)
	}
	if u.Completed == nil {
		u.Completed = []string{}
	}
	if completed == nil {
		completed = []string{}
	}
	if !slices.Equal(u.Completed, completed) {
		t.Errorf("completed = %q, want %q", u.Completed, completed)
	}
	if u.ErrCode != errcode {
		t.Errorf("errcode = %q, want %q; body: %s", u.ErrCode, errcode, r.Body)
	}
	if errcode != "" && u.Error == "" {
		t.Errorf("UIA challenge with errcode %s but no error text: %s", errcode, r.Body)
	}
	return u
}

// passwordAuth is an m.login.password auth dict.
func passwordAuth(user id.UserID, pass, session string) map[string]any {
	auth := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   pass,
	}
	if session != "" {
		auth["session"] = session
	}
	return auth
}

// TestUIASessions covers the rules of user-interactive authentication that every protected
// endpoint shares ("User-interactive authentication API" in content/client-server-api/_index.md).
func TestUIASessions(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		const passwordPath = "/_matrix/client/v3/account/password"
		const deactivatePath = "/_matrix/client/v3/account/deactivate"
		start := func(t *testing.T, cli *mautrix.Client, path string) string {
			t.Helper()
			return wantUIA(t, ts.do(t, http.MethodPost, path, cli.AccessToken, map[string]any{"new_password": "next"}), "m.login.password", "").Session
		}

		t.Run("wrong password, then the right one", func(t *testing.T) {
			session := start(t, alice, passwordPath)
			r := ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": "changed once", "auth": passwordAuth(alice.UserID, "wrong", session)})
			if u := wantUIA(t, r, "m.login.password", "M_FORBIDDEN"); u.Session != session {
				t.Errorf("session changed from %s to %s", session, u.Session)
			}
			wantOK(t, ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": "changed once", "auth": passwordAuth(alice.UserID, password, session)}))
			// The session ended with the request it authorised.
			r = ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": password, "auth": passwordAuth(alice.UserID, "changed once", session)})
			wantError(t, r, 400, "M_INVALID_PARAM")
			wantOK(t, ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": password, "auth": passwordAuth(alice.UserID, "changed once", "")}))
		})
		t.Run("authenticating as another user", func(t *testing.T) {
			session := start(t, alice, passwordPath)
			r := ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": "mine now", "auth": passwordAuth(bob.UserID, password, session)})
			wantUIA(t, r, "m.login.password", "M_FORBIDDEN")
		})
		t.Run("another user's session", func(t *testing.T) {
			session := start(t, alice, passwordPath)
			r := ts.do(t, http.MethodPost, passwordPath, bob.AccessToken, map[string]any{
				"new_password": "x", "auth": passwordAuth(bob.UserID, password, session)})
			wantError(t, r, 400, "M_INVALID_PARAM")
		})
		t.Run("unknown session", func(t *testing.T) {
			r := ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": "x", "auth": passwordAuth(alice.UserID, password, "nosuchsession")})
			wantError(t, r, 400, "M_INVALID_PARAM")
		})
		t.Run("session carried to another endpoint", func(t *testing.T) {
			session := start(t, alice, passwordPath)
			r := ts.do(t, http.MethodPost, deactivatePath, alice.AccessToken, map[string]any{
				"auth": passwordAuth(alice.UserID, password, session)})
			wantError(t, r, 403, "M_FORBIDDEN")
			if resp, err := alice.Whoami(t.Context()); err != nil || resp.UserID != alice.UserID {
				t.Fatalf("alice after the refused deactivation: %v, %v", resp, err)
			}
		})
		t.Run("unknown stage", func(t *testing.T) {
			r := ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": "x", "auth": map[string]any{"type": "m.login.fancy"}})
			wantUIA(t, r, "m.login.password", "M_UNRECOGNIZED")
		})
		t.Run("stage of another flow", func(t *testing.T) {
			r := ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{
				"new_password": "x", "auth": map[string]any{"type": "m.login.dummy"}})
			wantUIA(t, r, "m.login.password", "M_FORBIDDEN")
		})
		t.Run("auth of the wrong type", func(t *testing.T) {
			r := ts.do(t, http.MethodPost, passwordPath, alice.AccessToken, map[string]any{"new_password": "x", "auth": "password"})
			wantError(t, r, 400, "M_BAD_JSON")
		})
		// None of the refused attempts changed the password.
		ts.login(t, alice.UserID, password)
	})
}
