package server_test

import (
	"net/http"
	"testing"

	"causeway/homeserver/storage/storagetest"
)

// TestThreepidEndpoints: the server keeps no e-mail addresses or phone numbers and says so as
// the spec's answers for such a server go.
func TestThreepidEndpoints(t *testing.T) {
	ts := startServer(t, "sqlite", storagetest.DatabaseURL(t, "sqlite"))
	alice := ts.register(t, "alice")
	token := alice.AccessToken

	r := ts.do(t, http.MethodGet, "/_matrix/client/v3/account/3pid", token, nil)
	wantOK(t, r)
	if list, ok := r.object(t)["threepids"].([]any); !ok || len(list) != 0 {
		t.Errorf("GET /account/3pid = %v, want no threepids", r.object(t))
	}
	threepid := map[string]any{"medium": "email", "address": "alice@example.org"}
	session := map[string]any{"client_secret": "d0nt-T3ll", "sid": "abc"}
	request := map[string]any{"client_secret": "d0nt-T3ll", "email": "alice@example.org", "send_attempt": 1}
	tests := []struct {
		name, path, token string
		body              any
		status            int
		errcode           string
	}{
		{"add", "/account/3pid/add", token, session, http.StatusForbidden, "M_THREEPID_DENIED"},
		{"bind", "/account/3pid/bind", token, session, http.StatusForbidden, "M_THREEPID_DENIED"},
		{"delete without an address", "/account/3pid/delete", token, map[string]any{"medium": "email"}, http.StatusBadRequest, "M_BAD_JSON"},
		{"add e-mail token", "/account/3pid/email/requestToken", "", request, http.StatusBadRequest, "M_THREEPID_MEDIUM_NOT_SUPPORTED"},
		{"add phone token", "/account/3pid/msisdn/requestToken", "", request, http.StatusBadRequest, "M_THREEPID_MEDIUM_NOT_SUPPORTED"},
		{"register by e-mail", "/register/email/requestToken", "", request, http.StatusForbidden, "M_THREEPID_DENIED"},
		{"reset a password by phone", "/account/password/msisdn/requestToken", "", request, http.StatusForbidden, "M_THREEPID_DENIED"},
		{"unknown medium", "/register/fax/requestToken", "", request, http.StatusNotFound, "M_UNRECOGNIZED"},
		{"add without a token", "/account/3pid/add", "", session, http.StatusUnauthorized, "M_MISSING_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, ts.do(t, http.MethodPost, "/_matrix/client/v3"+tc.path, tc.token, tc.body), tc.status, tc.errcode)
		})
	}
	for _, path := range []string{"/account/3pid/delete", "/account/3pid/unbind"} {
		r := ts.do(t, http.MethodPost, "/_matrix/client/v3"+path, token, threepid)
		wantOK(t, r)
		if got := r.object(t)["id_server_unbind_result"]; got != "no-support" {
			t.Errorf("%s: id_server_unbind_result %v, want no-support", path, got)
		}
	}
}
