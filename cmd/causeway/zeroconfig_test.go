package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/accounts"
)

// TestZeroConfigFirstStart boots the binary as a newcomer would, in an empty directory with no
// configuration (only the listen port moved off 8008), registers the first account with the
// one-time token it prints, and chats.
func TestZeroConfigFirstStart(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir, nil, "CAUSEWAY_LISTEN=127.0.0.1:0")
	var token string
	for _, line := range p.stdout {
		if f := strings.Fields(line); len(f) == 1 && !strings.Contains(line, ":") {
			token = f[0]
		}
	}
	if token == "" {
		t.Fatalf("no registration token among the first lines: %q", p.stdout)
	}
	for _, f := range []string{"causeway.db", "signing.key"} {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); err != nil {
			t.Errorf("zero-config start did not create ./data/%s: %v", f, err)
		}
	}

	ctx := context.Background()
	cli, err := mautrix.NewClient(p.url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	req := &mautrix.ReqRegister[any]{Username: "first", Password: "first user password"}
	_, uia, err := cli.Register(ctx, req)
	if uia == nil || !uia.HasSingleStageFlow(accounts.AuthTypeRegistrationToken) {
		t.Fatalf("registration does not ask for a registration token: %+v, %v", uia, err)
	}
	req.Auth = map[string]any{"type": accounts.AuthTypeRegistrationToken, "token": token, "session": uia.Session}
	resp, _, err := cli.Register(ctx, req)
	if err != nil {
		t.Fatalf("register with the first-run token: %v", err)
	}
	if resp.UserID != "@first:localhost:8008" {
		t.Errorf("user ID = %s, want the default server name localhost:8008", resp.UserID)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.SendText(ctx, room.RoomID, "first message"); err != nil {
		t.Fatal(err)
	}

	// The token was for one use.
	other, _ := mautrix.NewClient(p.url, "", "")
	req2 := &mautrix.ReqRegister[any]{Username: "second", Password: "second user password"}
	_, uia2, _ := other.Register(ctx, req2)
	if uia2 == nil {
		t.Fatal("no UIA answer for the second registration")
	}
	req2.Auth = map[string]any{"type": accounts.AuthTypeRegistrationToken, "token": token, "session": uia2.Session}
	if _, _, err := other.Register(ctx, req2); err == nil {
		t.Error("the one-time token registered a second account")
	}
}
