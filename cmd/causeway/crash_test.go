package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// buildBinary compiles causeway once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "causeway-bin")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "causeway")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// process is one causeway serve run.
type process struct {
	cmd *exec.Cmd
	url string
}

// startProcess runs `causeway serve` on dataDir and the given database URL, with open
// registration and no rate limits, and waits until it listens.
func startProcess(t *testing.T, dataDir, databaseURL string) *process {
	t.Helper()
	cfgPath := filepath.Join(dataDir, "causeway.yaml")
	cfg := "client_api:\n  rate_limit:\n    enabled: false\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildBinary(t), "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(),
		"CAUSEWAY_DATA_DIR="+dataDir,
		"CAUSEWAY_LISTEN=127.0.0.1:0",
		"CAUSEWAY_SERVER_NAME=localhost",
		"CAUSEWAY_REGISTRATION=open",
		"CAUSEWAY_DATABASE_URL="+databaseURL,
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				found <- rest
			}
		}
	}()
	select {
	case url := <-found:
		return &process{cmd: cmd, url: url}
	case <-time.After(30 * time.Second):
		t.Fatal("causeway did not start listening")
		return nil
	}
}

// TestCrashLosesNoAcknowledgedEvent kills the server (SIGKILL) in the middle of a send loop,
// restarts it on the same data, and checks that every send answered 200 is in the room.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		dataDir := t.TempDir()
		databaseURL := dsn
		if driver == "sqlite" {
			databaseURL = "sqlite://" + dsn
		}
		first := startProcess(t, dataDir, databaseURL)
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

		second := startProcess(t, dataDir, databaseURL)
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
