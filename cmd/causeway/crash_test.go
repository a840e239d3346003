package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// startCrashTestServer runs `causeway serve` on dataDir and the given database URL, with open
// registration and no rate limits.
func startCrashTestServer(t *testing.T, dataDir, databaseURL string) *process {
	t.Helper()
	cfgPath := filepath.Join(dataDir, "causeway.yaml")
	cfg := "client_api:\n  rate_limit:\n    enabled: false\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startProcess(t, dataDir, []string{"serve", "--config", cfgPath},
		"CAUSEWAY_DATA_DIR="+dataDir,
		"CAUSEWAY_LISTEN=127.0.0.1:0",
		"CAUSEWAY_SERVER_NAME=localhost",
		"CAUSEWAY_REGISTRATION=open",
		"CAUSEWAY_DATABASE_URL="+databaseURL,
	)
}

// TestCrashLosesNoAcknowledgedEvent kills the server (SIGKILL) in the middle of a send loop,
// restarts it on the same data, and checks that every send answered 200 is in the room.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		dataDir := t.TempDir()
		first := startCrashTestServer(t, dataDir, dsn)
		cli, err := mautrix.NewClient(first.url, "", "")
		if err != nil {
			t.Fatal(err)
		}
		reg, err := cli.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: "writer", Password: "crash test password"})
		if err != nil {
			t.Fatal(err)
		}
		cli.SetCredentials(reg.UserID, reg.AccessToken)
		room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		var acked []id.EventID
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for n := 0; ; n++ {
					resp, err := cli.SendText(ctx, room.RoomID, fmt.Sprintf("w%d-%d", w, n))
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked = append(acked, resp.EventID)
					mu.Unlock()
				}
			})
		}
		// Let the loop run for a while, then kill the server mid-send.
		for deadline := time.Now().Add(30 * time.Second); ; {
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 60 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d sends acknowledged in 30s", n)
			}
		}
		if err := first.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		first.cmd.Wait()
		wg.Wait()

		second := startCrashTestServer(t, dataDir, dsn)
		after, err := mautrix.NewClient(second.url, reg.UserID, reg.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		for _, evID := range acked {
			if _, err := after.GetEvent(ctx, room.RoomID, evID); err != nil {
				t.Errorf("acknowledged event %s is gone after the crash: %v", evID, err)
			}
		}
		// The server keeps working after recovery.
		if _, err := after.SendText(ctx, room.RoomID, "after the crash"); err != nil {
			t.Errorf("send after restart: %v", err)
		}
		t.Logf("%d acknowledged sends survived SIGKILL", len(acked))
	})
}
