package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"maunium.net/go/mautrix"
)

// TestServeWithSlackBridge starts the binary with a Slack workspace that cannot be reached:
// the server serves all the same, and the bridge, wired in process, has registered its bot
// through the appservice API.
func TestServeWithSlackBridge(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "causeway.yaml")
	cfg := "bridges:\n  slack:\n    workspaces:\n      - name: acme\n        app_token: xapp-1-unreachable\n" +
		"        bot_token: env:TEST_SLACK_BOT\n        api_url: http://127.0.0.1:9/api/\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, dir, []string{"serve", "--config", cfgPath}, "CAUSEWAY_LISTEN=127.0.0.1:0",
		"CAUSEWAY_SERVER_NAME=localhost", "TEST_SLACK_BOT=xoxb-1-unreachable")
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
}
