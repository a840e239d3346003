package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"causeway/homeserver/accounts"
	"causeway/homeserver/config"
	"causeway/homeserver/server"
)

// env returns a getenv over a map, so tests never touch the process environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func runCmd(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out, getenv)
	return out.String(), err
}

func TestVersionAndHelp(t *testing.T) {
	out, err := runCmd(t, env(nil), "version")
	if err != nil || !strings.HasPrefix(out, "causeway ") {
		t.Errorf("version: %q, %v", out, err)
	}
	if _, err := runCmd(t, env(nil), "frobnicate"); err == nil {
		t.Error("an unknown command must fail")
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("server_name: chat.example.org\n"), 0o600)
	if out, err := runCmd(t, env(nil), "config", "check", "--config", good); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("check of a good file: %q, %v", out, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("server_name: chat.example.org\nregistraton:\n  mode: open\n"), 0o600)
	_, err := runCmd(t, env(nil), "config", "check", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), "registraton") || !strings.Contains(err.Error(), ":2") {
		t.Errorf("check of a file with an unknown key: err = %v, want the key and its line", err)
	}
	_, err = runCmd(t, env(map[string]string{"CAUSEWAY_REGISTRATION": "sometimes"}), "config", "check", "--config", good)
	if err == nil || !strings.Contains(err.Error(), "registration.mode") {
		t.Errorf("check with a bad env override: err = %v", err)
	}
	out, err := runCmd(t, env(nil), "config", "example")
	if err != nil || !strings.Contains(out, "server_name:") {
		t.Errorf("config example: %v", err)
	}
}

func TestAdminCommands(t *testing.T) {
	dataDir := t.TempDir()
	getenv := env(map[string]string{"CAUSEWAY_DATA_DIR": dataDir, "CAUSEWAY_SERVER_NAME": "example.org"})
	out, err := runCmd(t, getenv, "admin", "create-user", "--admin", "alice", "a long password")
	if err != nil || !strings.Contains(out, "@alice:example.org") {
		t.Fatalf("create-user: %q, %v", out, err)
	}
	if _, err := runCmd(t, getenv, "admin", "create-user", "alice", "another password"); err == nil {
		t.Error("creating a taken user must fail")
	}
	if _, err := runCmd(t, getenv, "admin", "create-user", "@bob:elsewhere.org", "pw pw pw pw"); err == nil {
		t.Error("creating a user of another server must fail")
	}
	token, err := runCmd(t, getenv, "admin", "registration-token", "create", "--uses", "2")
	if err != nil || strings.TrimSpace(token) == "" {
		t.Fatalf("registration-token create: %q, %v", token, err)
	}

	cfg, err := config.Load("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sess, err := srv.Accounts.Login(context.Background(), accounts.LoginParams{UserID: "@alice:example.org", Password: "a long password"})
	if err != nil {
		t.Fatalf("the created user cannot log in: %v", err)
	}
	req, err := srv.Accounts.Authenticate(context.Background(), sess.AccessToken)
	if err != nil || !req.IsAdmin {
		t.Errorf("created with --admin but IsAdmin = %v (%v)", req.IsAdmin, err)
	}
	valid, err := srv.Accounts.ValidateRegistrationToken(context.Background(), strings.TrimSpace(token))
	if err != nil || !valid {
		t.Errorf("the created registration token is not valid: %v, %v", valid, err)
	}
}

func TestConfigBridgesSection(t *testing.T) {
	dir := t.TempDir()
	example := filepath.Join(dir, "example.yaml")
	out, err := runCmd(t, env(nil), "config", "example")
	if err != nil || !strings.Contains(out, "bridges:") || !strings.Contains(out, "username_template:") {
		t.Fatalf("config example has no bridges section: %v", err)
	}
	os.WriteFile(example, []byte(out), 0o600)
	if _, err := runCmd(t, env(nil), "config", "check", "--config", example); err != nil {
		t.Errorf("the example does not load back: %v", err)
	}

	t.Setenv("TEST_SLACK_BOT", "xoxb-from-env")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	good := write("slack.yaml", "bridges:\n  slack:\n    workspaces:\n      - name: acme\n        app_token: xapp-1-abc\n        bot_token: env:TEST_SLACK_BOT\n")
	if _, err := runCmd(t, env(nil), "config", "check", "--config", good); err != nil {
		t.Errorf("a workspace with an env token: %v", err)
	}
	for _, tc := range []struct{ body, want string }{
		{"bridges:\n  slack:\n    workspaces:\n      - name: acme\n        app_token: xapp-1\n        bot_token: env:TEST_UNSET_VARIABLE\n",
			"bridges.slack: workspaces[0].bot_token: environment variable TEST_UNSET_VARIABLE is not set"},
		{"bridges:\n  slack:\n    workspaces:\n      - name: Acme Corp\n        app_token: xoxb-wrong\n        bot_token: xoxb-1\n",
			"workspaces[0].app_token: must be a Slack token starting with xapp-"},
		{"bridges:\n  slack:\n    workspaces:\n      - name: acme\n        app_tokn: xapp-1\n", "app_tokn"},
	} {
		_, err := runCmd(t, env(nil), "config", "check", "--config", write("bad.yaml", tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to say %q", tc.body, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "xoxb-1") {
			t.Errorf("an error shows a token: %v", err)
		}
	}
}

// TestBridgeCommands runs the bridge CLI against a real server that runs no Slack bridge: the
// commands reach the admin API with the token and report its answers.
func TestBridgeCommands(t *testing.T) {
	cfg := config.Default()
	cfg.ServerName, cfg.DataDir = "example.org", t.TempDir()
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	if _, err := srv.Accounts.Register(context.Background(), accounts.RegisterParams{Localpart: "root", Password: "a long password", Admin: true, InhibitLogin: true}); err != nil {
		t.Fatal(err)
	}
	sess, err := srv.Accounts.Login(context.Background(), accounts.LoginParams{UserID: "@root:example.org", Password: "a long password"})
	if err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"CAUSEWAY_ADMIN_TOKEN": sess.AccessToken})
	if _, err := runCmd(t, env(nil), "bridge", "slack", "status", "--url", hs.URL); err == nil || !strings.Contains(err.Error(), "access token") {
		t.Errorf("status without a token: %v", err)
	}
	_, err = runCmd(t, getenv, "bridge", "slack", "status", "--url", hs.URL)
	if err == nil || !strings.Contains(err.Error(), "M_NOT_FOUND") {
		t.Errorf("status of a server without the bridge: %v", err)
	}
	_, err = runCmd(t, getenv, "bridge", "slack", "bridge", "--url", hs.URL, "acme", "general")
	if err == nil || !strings.Contains(err.Error(), "M_NOT_FOUND") {
		t.Errorf("bridge on a server without the bridge: %v", err)
	}
	_, err = runCmd(t, env(map[string]string{"CAUSEWAY_ADMIN_TOKEN": "wrong"}), "bridge", "slack", "status", "--url", hs.URL)
	if err == nil || !strings.Contains(err.Error(), "M_UNKNOWN_TOKEN") {
		t.Errorf("status with a wrong token: %v", err)
	}
	if _, err := runCmd(t, getenv, "bridge", "slack", "unbridge", "--url", hs.URL, "only-one-arg"); err == nil {
		t.Error("unbridge without a channel must fail")
	}
}
