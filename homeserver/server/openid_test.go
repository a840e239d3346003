package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"causeway/homeserver/storage/storagetest"
)

func TestOpenIDTokens(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		requestPath := "/_matrix/client/v3/user/" + url.PathEscape(string(alice.UserID)) + "/openid/request_token"

		r := ts.do(t, http.MethodPost, requestPath, alice.AccessToken, map[string]any{})
		wantOK(t, r)
		var token struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ServerName  string `json:"matrix_server_name"`
			ExpiresIn   int    `json:"expires_in"`
		}
		r.decode(t, &token)
		if token.AccessToken == "" || token.TokenType != "Bearer" || token.ServerName != "localhost" || token.ExpiresIn != 3600 {
			t.Errorf("openid token = %+v", token)
		}
		if token.AccessToken == alice.AccessToken {
			t.Error("the OpenID token is the access token")
		}

		// The third party checks it over the federation API, without any other credential.
		userInfo := func(token string) apiResponse {
			return ts.do(t, http.MethodGet, "/_matrix/federation/v1/openid/userinfo?access_token="+url.QueryEscape(token), "", nil)
		}
		info := userInfo(token.AccessToken)
		wantOK(t, info)
		if sub := info.object(t)["sub"]; sub != string(alice.UserID) {
			t.Errorf("userinfo sub = %v, want %s", sub, alice.UserID)
		}
		wantError(t, userInfo(alice.AccessToken), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		wantError(t, userInfo(strings.ToUpper(token.AccessToken)), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		wantError(t, userInfo(""), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		wantError(t, ts.do(t, http.MethodPost, requestPath, bob.AccessToken, map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, ts.do(t, http.MethodPost, requestPath, alice.AccessToken, []int{}), http.StatusBadRequest, "M_BAD_JSON")
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/federation/v1/version", "", nil), http.StatusNotFound, "M_UNRECOGNIZED")
	})
}
