package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
)

const reloadRegistration = `id: %[1]s
url: null
as_token: as-token-%[1]s-0123456789
hs_token: hs-token-%[1]s-0123456789
sender_localpart: %[1]sbot
namespaces:
  users:
  - regex: '@_%[1]s_.*:localhost'
    exclusive: true
`

// TestReloadAppservicesOnHangup adds a registration file while the server runs, sends SIGHUP,
// and sees the new appservice's token accepted; a broken file keeps the running set.
func TestReloadAppservicesOnHangup(t *testing.T) {
	dir := t.TempDir()
	regDir := filepath.Join(dir, "appservices")
	os.MkdirAll(regDir, 0o700)
	writeReg := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(regDir, name+".yaml"), []byte(fmt.Sprintf(reloadRegistration, name)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeReg("first")
	cfgPath := filepath.Join(dir, "causeway.yaml")
	os.WriteFile(cfgPath, []byte("appservices:\n  - "+filepath.Join(regDir, "*.yaml")+"\n"), 0o600)
	p := startProcess(t, dir, []string{"serve", "--config", cfgPath}, "CAUSEWAY_LISTEN=127.0.0.1:0", "CAUSEWAY_SERVER_NAME=localhost")

	whoami := func(appservice string) error {
		cli, _ := mautrix.NewClient(p.url, "", "as-token-"+appservice+"-0123456789")
		_, err := cli.Whoami(context.Background())
		return err
	}
	if err := whoami("first"); err != nil {
		t.Fatalf("the configured appservice's token: %v", err)
	}
	if err := whoami("second"); !errors.Is(err, mautrix.MUnknownToken) {
		t.Fatalf("a not yet registered appservice's token: %v, want M_UNKNOWN_TOKEN", err)
	}

	writeReg("second")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return whoami("second") == nil })

	// A broken file: the reload fails and the running set stays.
	os.WriteFile(filepath.Join(regDir, "broken.yaml"), []byte("id: [not a string\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if err := whoami("first"); err != nil {
		t.Errorf("after a failed reload the first appservice is gone: %v", err)
	}
	if err := whoami("second"); err != nil {
		t.Errorf("after a failed reload the second appservice is gone: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}
