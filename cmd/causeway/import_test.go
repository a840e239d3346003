package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/internal/fakeslack"
	"causeway/migration/importer"
)

// slackExport writes an export of a workspace whose #general holds n messages.
func slackExport(t *testing.T, n int) string {
	t.Helper()
	fake := fakeslack.New(fakeslack.Options{Now: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)})
	t.Cleanup(fake.Close)
	alice := fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice"})
	general, err := fake.AddChannel(fakeslack.ChannelSpec{Name: "general", General: true, Members: []string{alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := fake.Post(alice.ID, general.ID, fmt.Sprintf("message %04d", i)); err != nil {
			t.Fatal(err)
		}
		fake.Advance(time.Minute)
	}
	var buf bytes.Buffer
	if _, err := fake.Export(&buf, fakeslack.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "export.zip")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importServer is a causeway process with an admin, for the import command.
type importServer struct {
	dir   string
	env   []string
	proc  *process
	admin *mautrix.Client
}

// startImportServer starts causeway with yaml as its causeway.yaml ("" for none).
func startImportServer(t *testing.T, yaml string) *importServer {
	t.Helper()
	dir := t.TempDir()
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(dir, "causeway.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := &importServer{dir: dir, env: []string{"CAUSEWAY_LISTEN=127.0.0.1:0", "CAUSEWAY_SERVER_NAME=localhost", "CAUSEWAY_DATA_DIR=" + filepath.Join(dir, "data")}}
	getenv := env(map[string]string{"CAUSEWAY_SERVER_NAME": "localhost", "CAUSEWAY_DATA_DIR": filepath.Join(dir, "data")})
	if _, err := runCmd(t, getenv, "admin", "create-user", "--admin", "root", "a long password"); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	return s
}

// start runs the server (again) on the same data, and logs the admin in.
func (s *importServer) start(t *testing.T) {
	t.Helper()
	s.proc = startProcess(t, s.dir, []string{"serve"}, s.env...)
	cli, err := mautrix.NewClient(s.proc.url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Login(context.Background(), &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "root"}, Password: "a long password", StoreCredentials: true}); err != nil {
		t.Fatal(err)
	}
	s.admin = cli
}

func (s *importServer) getenv() func(string) string {
	return env(map[string]string{"CAUSEWAY_ADMIN_TOKEN": s.admin.AccessToken})
}

// generalMessages returns the bodies of the messages in a portal, read by the admin after
// joining it (public channels' portals are public rooms).
func (s *importServer) generalMessages(t *testing.T, room id.RoomID) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.admin.JoinRoomByID(ctx, room); err != nil {
		t.Fatal(err)
	}
	resp, err := s.admin.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		ev := resp.Chunk[i]
		if ev.Type == event.EventMessage {
			_ = ev.Content.ParseRaw(ev.Type)
			out = append(out, ev.Content.AsMessage().Body)
		}
	}
	return out
}

// wantNumbered checks that bodies are "message 0000" to n-1, each once, in order.
func wantNumbered(t *testing.T, bodies []string, n int) {
	t.Helper()
	if len(bodies) != n {
		t.Fatalf("%d messages, want %d", len(bodies), n)
	}
	for i, b := range bodies {
		if want := fmt.Sprintf("message %04d", i); b != want {
			t.Fatalf("message %d is %q, want %q", i, b, want)
		}
	}
}

// TestImportCommand runs "causeway import slack-export" against the running binary: a dry run
// imports nothing, the import prints its report, and what is refused is said clearly.
func TestImportCommand(t *testing.T) {
	s := startImportServer(t, "")
	path := slackExport(t, 20)

	out, err := runCmd(t, s.getenv(), "import", "slack-export", "--url", s.proc.url, "--dry-run", path)
	if err != nil || !strings.Contains(out, "#general") || !strings.Contains(out, "20") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = runCmd(t, s.getenv(), "import", "slack-export", "--url", s.proc.url, "--json", path)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	var rep importer.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Channels) != 1 || rep.Channels[0].Imported != 20 {
		t.Fatalf("report = %s (%v)", out, err)
	}
	wantNumbered(t, s.generalMessages(t, id.RoomID(rep.Channels[0].RoomID)), 20)

	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"--channels", "nowhere", path}, "not in the export"},
		{[]string{filepath.Join(s.dir, "missing.zip")}, "missing.zip"},
		{[]string{"--since", "yesterday", path}, "--since"},
		{[]string{"--user-map", filepath.Join(s.dir, "missing.map"), path}, "--user-map"},
	}
	for _, r := range refusals {
		args := append([]string{"import", "slack-export", "--url", s.proc.url}, r.args...)
		if _, err := runCmd(t, s.getenv(), args...); err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%v: %v, want an error mentioning %q", r.args, err, r.want)
		}
	}
	if _, err := runCmd(t, s.getenv(), "import", "slack-api", "--url", s.proc.url); err == nil || !strings.Contains(err.Error(), "--workspace NAME") {
		t.Errorf("slack-api without a workspace: %v, want the usage", err)
	}
	if _, err := runCmd(t, s.getenv(), "import", "slack-api", "--url", s.proc.url, "--workspace", "acme"); err == nil || !strings.Contains(err.Error(), "acme") {
		t.Errorf("slack-api of a workspace that is not configured: %v", err)
	}
	if _, err := runCmd(t, s.getenv(), "import", "slack-export", "--url", "http://127.0.0.1:9", path); err == nil ||
		!strings.Contains(err.Error(), "no Causeway server answers") {
		t.Errorf("with no server: %v", err)
	}
}

// TestImportSurvivesKill kills the server (SIGKILL) while it imports: at the next start the
// job goes on by itself, and every message is in the room once, in order.
func TestImportSurvivesKill(t *testing.T) {
	s := startImportServer(t, "")
	const n = 400
	path := slackExport(t, n)
	api := adminClient{base: s.proc.url + "/_causeway/admin/v1/imports", token: s.admin.AccessToken}
	ctx := context.Background()
	job, err := startImport(ctx, api, importer.Options{Kind: importer.KindSlackExport, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		job, err = getJob(ctx, api, "GET", "/"+job.ID)
		return err == nil && job.Progress.Messages.Done > 20
	})
	if job.State != importer.JobRunning {
		t.Skipf("the import ended (%s) before it could be killed: make the export larger", job.State)
	}
	if err := s.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.proc.cmd.Wait()
	s.start(t)
	api.base = s.proc.url + "/_causeway/admin/v1/imports"
	deadline := time.Now().Add(2 * time.Minute)
	for job.State == importer.JobRunning && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if job, err = getJob(ctx, api, "GET", "/"+job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if job.State != importer.JobDone || job.Report == nil {
		t.Fatalf("the resumed job: %s %s", job.State, job.Error)
	}
	wantNumbered(t, s.generalMessages(t, id.RoomID(job.Report.Channels[0].RoomID)), n)
}

// TestImportCommandInterrupted: Ctrl-C cancels the job and says how to go on; the same command
// then finishes the import, with nothing twice.
func TestImportCommandInterrupted(t *testing.T) {
	s := startImportServer(t, "")
	const n = 400
	path := slackExport(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	var out bytes.Buffer
	err := run(ctx, []string{"import", "slack-export", "--url", s.proc.url, path}, &out, s.getenv())
	if err == nil || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("interrupted import: %v, want a cancellation saying how to go on", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"import", "slack-export", "--url", s.proc.url, "--json", path}, &out, s.getenv()); err != nil {
		t.Fatal(err)
	}
	var rep importer.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if c := rep.Channels[0]; c.Imported == 0 || c.Skipped == 0 || c.Imported+c.Skipped != n {
		t.Errorf("the second run: %+v, want the rest imported and what the first did skipped", c)
	}
	wantNumbered(t, s.generalMessages(t, id.RoomID(rep.Channels[0].RoomID)), n)
}

// TestProgressBar: a phase's bar shows how far it got, its rate and the time left; without a
// total (a Web API import) only the count.
func TestProgressBar(t *testing.T) {
	got := bar("messages", importer.Counter{Done: 50, Total: 100}, 10*time.Second)
	want := "messages  [###############---------------] 50/100  5/s  ETA 10s"
	if got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
	if got := bar("messages", importer.Counter{Done: 7}, time.Second); !strings.Contains(got, "] 7  7/s") || strings.Contains(got, "ETA") {
		t.Errorf("bar without a total = %q", got)
	}
}
