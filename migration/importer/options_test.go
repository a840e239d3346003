package importer_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
	"causeway/migration/importer"
	"causeway/migration/slackexport"
)

// TestImportOptions: an Enterprise Grid export (org_users.json) whose file links no longer
// work, imported with the user map by Slack ID and --since; the missing files are listed and
// shown as placeholders. A second database, with --files-token, gets the files.
func TestImportOptions(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		w.tell(t)
		path, exportToken := w.export(t, fakeslack.ExportOptions{EnterpriseGrid: true})
		w.fake.RevokeToken(exportToken) // the export's file links expired
		st := slackstack.Start(t, slackstack.Options{DSN: dsn})
		bob := register(t, st, "bob")
		since := slackexportTime(t, w.ts["edited"])
		rep := runImport(t, st, importer.Options{Kind: importer.KindSlackExport, Path: path, Since: since,
			Channels: []string{"general"}, UserMap: map[string]string{w.bob.ID: bob.String()}})
		gen := channelReport(t, rep, w.general.ID)
		if gen.Skipped < 5 || gen.FilesFetched != 0 || len(gen.FilesMissing) != 2 {
			t.Fatalf("#general = %+v, want what came before --since skipped and both files missing", gen)
		}
		if !slices.ContainsFunc(gen.FilesMissing, func(f slackbridge.MissingFile) bool { return strings.Contains(f.Reason, "sign in") }) {
			t.Errorf("missing files %+v, want the expired link said", gen.FilesMissing)
		}
		got := bodiesIn(t, st, w.ghost(w.alice), portal(t, st, w.fake.TeamID(), w.general.ID))
		if len(got) == 0 || got[0] != "a draft, fixed" || !slices.Contains(got, "📎 notes.txt (17 B) could not be copied from Slack") {
			t.Errorf("#general from --since on = %q", got)
		}
		if slices.Contains(rep.UnmappedUsers, "bob") || !slices.Contains(rep.UnmappedUsers, "alice") {
			t.Errorf("unmapped = %v: bob is mapped by his Slack ID", rep.UnmappedUsers)
		}
		if _, err := st.Store.Portal(context.Background(), bridge.Key{Network: "slack", Workspace: w.fake.TeamID()}, w.secret.ID); !bridge.IsNotFound(err) {
			t.Errorf("a conversation --channels left out has a portal: %v", err)
		}

		other := slackstack.Start(t, slackstack.Options{DSN: storagetest.DatabaseURL(t, driver)})
		rep = runImport(t, other, importer.Options{Kind: importer.KindSlackExport, Path: path, Channels: []string{w.general.ID}, FilesToken: w.fake.BotToken()})
		if gen := channelReport(t, rep, w.general.ID); gen.FilesFetched != 1 || len(gen.FilesMissing) != 1 {
			t.Errorf("with --files-token: %+v, want the file fetched and the deleted one missing", gen)
		}
	})
}

// TestDryRun plans without writing: the conversations with their counts and date range, and
// every member with the Matrix user their history would go to, by the user map or by e-mail.
func TestDryRun(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		w.tell(t)
		path, _ := w.export(t, fakeslack.ExportOptions{})
		st := slackstack.Start(t, slackstack.Options{DSN: dsn})
		carol := register(t, st, "carol")
		alice := register(t, st, "alice") // alice@example.org in Slack: matched by e-mail
		register(t, st, "bob")            // bob has no e-mail in Slack: not matched
		rep := runImport(t, st, importer.Options{Kind: importer.KindSlackExport, Path: path, DryRun: true,
			UserMap: map[string]string{"carol@example.org": carol.String()}, MatchEmails: true})
		gen := channelReport(t, rep, w.general.ID)
		if !rep.DryRun || gen.Messages != 14 || gen.Files != 2 || gen.Threads != 1 || gen.First.IsZero() || gen.AlreadyImported != 0 {
			t.Errorf("plan of #general = %+v", gen)
		}
		var mapped []string
		for _, u := range rep.Users {
			if u.Mapped {
				mapped = append(mapped, u.Name+" "+u.MatrixID)
			}
		}
		if !slices.Equal(mapped, []string{"alice " + alice.String(), "carol " + carol.String()}) {
			t.Errorf("mapped users in the plan = %v", mapped)
		}
		key := bridge.Key{Network: "slack", Workspace: w.fake.TeamID()}
		if _, err := st.Store.Space(context.Background(), key); !bridge.IsNotFound(err) {
			t.Errorf("a dry run made the space: %v", err)
		}
		var table strings.Builder
		if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "#general") {
			t.Errorf("the plan's table: %v\n%s", err, table.String())
		}
	})
}

func slackexportTime(t *testing.T, ts string) time.Time {
	t.Helper()
	if ts == "" {
		t.Fatal("no such message")
	}
	return slackexport.TS(ts).Time()
}
