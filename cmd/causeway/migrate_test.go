package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"causeway/internal/fakeslack"
)

// TestMigrateCommands walks a channel of a workspace that the binary bridges from a fake Slack
// through "causeway migrate": status, bridge, cutover, summary, rollback, and the refusals.
func TestMigrateCommands(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{PingInterval: time.Second})
	t.Cleanup(fake.Close)
	alice := fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice"})
	project, err := fake.AddChannel(fakeslack.ChannelSpec{Name: "project", Members: []string{alice.ID}, BotMember: true})
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("bridges:\n  slack:\n    workspaces:\n      - name: acme\n        app_token: %s\n        bot_token: %s\n        api_url: %s\n",
		fake.AppToken(), fake.BotToken(), fake.APIURL())
	s := startImportServer(t, yaml)
	migrate := func(args ...string) (string, error) {
		args = append([]string{"migrate", args[0], "--url", s.proc.url, "--config", filepath.Join(s.dir, "causeway.yaml")}, args[1:]...)
		return runCmd(t, s.getenv(), args...)
	}
	// The bridge makes the portal once it has connected.
	waitFor(t, func() bool {
		out, err := migrate("status")
		return err == nil && strings.Contains(out, "#project") && strings.Contains(out, "planned")
	})
	steps := []struct{ action, want string }{
		{"bridge", "#project: bridged"},
		{"cutover", "#project: matrix-primary"},
	}
	for _, st := range steps {
		if out, err := migrate(st.action, "project"); err != nil || !strings.Contains(out, st.want) {
			t.Fatalf("migrate %s: %q, %v; want %q", st.action, out, err, st.want)
		}
	}
	msgs, err := fake.Messages(project.ID)
	if err != nil || !slices.ContainsFunc(msgs, func(m fakeslack.Message) bool {
		return strings.Contains(m.Text, "moved to Matrix") && len(m.PinnedTo) == 1
	}) {
		t.Errorf("no pinned cutover notice in Slack: %+v, %v", msgs, err)
	}
	if out, err := migrate("summary"); err != nil || !strings.Contains(out, "matrix-primary  1") {
		t.Errorf("summary: %q, %v", out, err)
	}
	if out, err := migrate("rollback", "#project"); err != nil || !strings.Contains(out, "#project: bridged") {
		t.Errorf("rollback: %q, %v", out, err)
	}
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"archive", "project"}, "cannot archive"},
		{[]string{"cutover", "nowhere"}, "M_NOT_FOUND"},
		{[]string{"rollback", "project", "other"}, "usage"},
		{[]string{"explode", "project"}, "unknown migrate command"},
	}
	for _, r := range refusals {
		if _, err := migrate(r.args...); err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("migrate %v: %v, want an error mentioning %q", r.args, err, r.want)
		}
	}
}
