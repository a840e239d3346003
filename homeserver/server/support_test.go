package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// TestWellKnownSupport: what the server says about itself outside the API proper.
func TestWellKnownSupport(t *testing.T) {
	plain := startServer(t, "sqlite", storagetest.DatabaseURL(t, "sqlite"))
	wantError(t, plain.do(t, http.MethodGet, "/.well-known/matrix/support", "", nil), http.StatusNotFound, "M_NOT_FOUND")
	// Nor is it a policy server, nor does it offer single sign-on.
	for _, path := range []string{"/.well-known/matrix/policy_server", "/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fapp.example.org", "/_matrix/client/v3/login/sso/redirect/google"} {
		wantError(t, plain.do(t, http.MethodGet, path, "", nil), http.StatusNotFound, "M_NOT_FOUND")
	}

	ts := startServer(t, "sqlite", storagetest.DatabaseURL(t, "sqlite"), func(c *config.Config) {
		c.ClientAPI.Support = config.Support{
			Contacts: []config.SupportContact{{MatrixID: "@admin:localhost", Role: "m.role.admin"}, {Email: "security@example.org", Role: "m.role.security"}},
			Page:     "https://example.org/help",
		}
	})
	var got struct {
		Contacts []map[string]string `json:"contacts"`
		Page     string              `json:"support_page"`
	}
	r := ts.do(t, http.MethodGet, "/.well-known/matrix/support", "", nil)
	wantOK(t, r)
	r.decode(t, &got)
	if len(got.Contacts) != 2 || got.Contacts[0]["matrix_id"] != "@admin:localhost" || got.Contacts[0]["role"] != "m.role.admin" ||
		got.Contacts[1]["email_address"] != "security@example.org" || got.Contacts[1]["matrix_id"] != "" || got.Page != "https://example.org/help" {
		t.Errorf("support = %+v", got)
	}
}

func TestTurnServer(t *testing.T) {
	ctx := context.Background()
	plain := startServer(t, "sqlite", storagetest.DatabaseURL(t, "sqlite"))
	r := plain.do(t, http.MethodGet, "/_matrix/client/v3/voip/turnServer", plain.register(t, "alice").AccessToken, nil)
	if wantOK(t, r); len(r.object(t)) != 0 {
		t.Errorf("without a TURN server: %v, want {}", r.object(t))
	}
	wantError(t, plain.do(t, http.MethodGet, "/_matrix/client/v3/voip/turnServer", "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")

	uris := []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:443?transport=tcp"}
	ts := startServer(t, "sqlite", storagetest.DatabaseURL(t, "sqlite"), func(c *config.Config) {
		c.ClientAPI.TURN = config.TURN{URIs: uris, SharedSecret: "n0t-so-s3cret", Lifetime: config.Duration(time.Hour)}
	})
	alice := ts.register(t, "alice")
	resp, err := alice.TurnServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expiry, user, _ := strings.Cut(resp.Username, ":")
	at, _ := strconv.ParseInt(expiry, 10, 64)
	if user != string(alice.UserID) || time.Until(time.Unix(at, 0)) < 59*time.Minute || time.Until(time.Unix(at, 0)) > time.Hour {
		t.Errorf("username %q: want an expiry an hour from now and alice's ID", resp.Username)
	}
	mac := hmac.New(sha1.New, []byte("n0t-so-s3cret"))
	mac.Write([]byte(resp.Username))
	if resp.Password != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("password %q is not the HMAC-SHA1 of the username with the shared secret", resp.Password)
	}
	if resp.TTL != 3600 || len(resp.URIs) != 2 || resp.URIs[1] != uris[1] {
		t.Errorf("ttl %d, uris %v", resp.TTL, resp.URIs)
	}
}
