package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
)

// TestServeWithSlackBridge starts the binary with Slack workspaces that cannot be reached:
// the server serves all the same, the bridge, wired in process, has registered its bot
// through the appservice API, and the Request URL of the workspace whose app sends its events
// over HTTP answers Slack's verification.
func TestServeWithSlackBridge(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "causeway.yaml")
	cfg := "bridges:\n  slack:\n    workspaces:\n      - name: acme\n        app_token: xapp-1-unreachable\n" +
		"        bot_token: env:TEST_SLACK_BOT\n        api_url: http://127.0.0.1:9/api/\n" +
		"      - name: beta\n        signing_secret: env:TEST_SLACK_SIGNING_SECRET\n" +
		"        bot_token: env:TEST_SLACK_BOT\n        api_url: http://127.0.0.1:9/api/\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, dir, []string{"serve", "--config", cfgPath}, "CAUSEWAY_LISTEN=127.0.0.1:0",
		"CAUSEWAY_SERVER_NAME=localhost", "TEST_SLACK_BOT=xoxb-1-unreachable", "TEST_SLACK_SIGNING_SECRET=beta-secret")
	cli, err := mautrix.NewClient(p.url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		profile, err := cli.GetProfile(context.Background(), "@slackbot:localhost")
		return err == nil && profile.DisplayName == "Slack bridge"
	})
	if _, err := cli.Versions(context.Background()); err != nil {
		t.Errorf("the server does not serve: %v", err)
	}

	challenge := `{"token":"t","challenge":"c-123","type":"url_verification"}`
	for _, tc := range []struct {
		workspace, secret string
		want              int
		body              string
	}{
		{"beta", "beta-secret", http.StatusOK, "c-123"},
		{"beta", "wrong-secret", http.StatusUnauthorized, ""},
		{"acme", "beta-secret", http.StatusNotFound, ""}, // Socket Mode: no Request URL
	} {
		code, body := postSigned(t, p.url+"/_causeway/bridges/slack/events/"+tc.workspace, tc.secret, challenge)
		if code != tc.want || tc.body != "" && body != tc.body {
			t.Errorf("url_verification to %s signed with %s: %d %q, want %d %q", tc.workspace, tc.secret, code, body, tc.want, tc.body)
		}
	}
}

// postSigned POSTs body to url as Slack does, signed with secret, and returns the answer.
func postSigned(t *testing.T, url, secret, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, "v0:"+ts+":"+body)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
