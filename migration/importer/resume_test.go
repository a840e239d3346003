package importer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
	"causeway/migration/importer"
)

// chatter posts n numbered messages in #general, every third a reply in the thread of the
// one before it, with a reaction on every fifth.
func chatter(t *testing.T, w *world, n int) []string {
	t.Helper()
	var bodies []string
	var root string
	for i := range n {
		body := fmt.Sprintf("message %03d", i)
		var opts []fakeslack.PostOption
		if i%3 == 2 {
			opts = append(opts, fakeslack.InThread(root))
		}
		ts := w.post(t, body, w.alice, w.general, body, opts...)
		if i%3 != 2 {
			root = ts
		}
		if i%5 == 0 {
			if err := w.fake.React(w.bob.ID, w.general.ID, ts, "eyes"); err != nil {
				t.Fatal(err)
			}
		}
		bodies = append(bodies, body)
	}
	return bodies
}

// bodiesIn returns the bodies of the messages (not edits) in a room, oldest first.
func bodiesIn(t *testing.T, st *slackstack.Stack, reader id.UserID, roomID id.RoomID) []string {
	t.Helper()
	var out []string
	for _, m := range messages(timeline(t, as(t, st, reader), roomID)) {
		out = append(out, m.Content.AsMessage().Body)
	}
	return out
}

// TestImportResumesAfterInterruption stops an import at random points (the context ends
// mid-request, as Ctrl-C or a crash does) and runs it again each time: in the end every
// message and reaction is in the room once, in order.
func TestImportResumesAfterInterruption(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		want := chatter(t, w, 60)
		path, _ := w.export(t, fakeslack.ExportOptions{})
		st := slackstack.Start(t, slackstack.Options{DSN: dsn})
		opts := importer.Options{Kind: importer.KindSlackExport, Path: path}
		rng := rand.New(rand.NewPCG(1, uint64(len(driver))))
		for round := range 6 {
			ctx, cancel := context.WithCancel(context.Background())
			progress := importer.NewProgress()
			stopAt := int64(rng.IntN(len(want)))
			go func() {
				for ctx.Err() == nil && progress.Snapshot().Messages.Done < stopAt {
					time.Sleep(200 * time.Microsecond)
				}
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				cancel()
			}()
			_, err := importer.Run(ctx, deps(st), opts, progress)
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		rep := runImport(t, st, opts)
		if gen := channelReport(t, rep, w.general.ID); gen.Failed != 0 {
			t.Fatalf("the last run failed messages: %+v", gen.Failures)
		}
		room := portal(t, st, w.fake.TeamID(), w.general.ID)
		got := bodiesIn(t, st, w.ghost(w.alice), room)
		if !slices.Equal(got, want) {
			t.Fatalf("after interrupted imports #general has %d messages:\n%q\nwant %d:\n%q", len(got), got, len(want), want)
		}
		reactions := 0
		for _, ev := range timeline(t, as(t, st, w.ghost(w.alice)), room) {
			if ev.Type == event.EventReaction {
				reactions++
			}
		}
		if reactions != 12 {
			t.Errorf("%d reactions, want 12 (one on every fifth message)", reactions)
		}
	})
}

// TestImportIntoLivePortalMakesHistoryRoom: when the bridge has already bridged live traffic
// into a portal, the imported past goes into a history room that the portal names as its
// predecessor (and that points to the portal with a tombstone); what came after the first
// live message and was not bridged goes into the portal.
func TestImportIntoLivePortalMakesHistoryRoom(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		past := chatter(t, w, 6)
		w.fake.DiscardUndelivered() // said long before the bridge: Slack gave up delivering it
		w.fake.SetTime(time.Time{}) // live from now on: the real clock
		st := slackstack.Start(t, slackstack.Options{DSN: dsn, Workspaces: []slackbridge.WorkspaceConfig{w.workspaceConfig()}})
		room := waitPortal(t, st, w)
		if _, err := w.fake.Post(w.bob.ID, w.general.ID, "live and bridged"); err != nil {
			t.Fatal(err)
		}
		waitBodies(t, st, w.ghost(w.bob), room, []string{"live and bridged"})

		path, _ := w.export(t, fakeslack.ExportOptions{})
		rep := runImport(t, st, importer.Options{Kind: importer.KindSlackExport, Path: path, Workspace: "acme", Channels: []string{"general"}})
		gen := channelReport(t, rep, w.general.ID)
		if gen.HistoryRoomID == "" || gen.RoomID != room.String() {
			t.Fatalf("report = %+v, want a history room next to %s", gen, room)
		}
		history := id.RoomID(gen.HistoryRoomID)
		if got := bodiesIn(t, st, w.ghost(w.bob), history); !slices.Equal(got, past) {
			t.Errorf("the history room has %q, want %q", got, past)
		}
		if got := bodiesIn(t, st, w.ghost(w.bob), room); !slices.Equal(got, []string{"live and bridged"}) {
			t.Errorf("the portal has %q, want only the live message", got)
		}
		cli := as(t, st, w.ghost(w.bob))
		var pred struct {
			PredecessorRoomID id.RoomID `json:"predecessor_room_id"`
		}
		if err := cli.StateEvent(context.Background(), room, event.Type{Type: "m.room.predecessor", Class: event.StateEventType}, "", &pred); err != nil || pred.PredecessorRoomID != history {
			t.Errorf("m.room.predecessor of the portal = %+v, %v; want %s", pred, err, history)
		}
		var tomb event.TombstoneEventContent
		if err := cli.StateEvent(context.Background(), history, event.StateTombstone, "", &tomb); err != nil || tomb.ReplacementRoom != room {
			t.Errorf("tombstone of the history room = %+v, %v; want %s", tomb, err, room)
		}
		// Again: the same history room, nothing twice.
		again := runImport(t, st, importer.Options{Kind: importer.KindSlackExport, Path: path, Workspace: "acme", Channels: []string{"general"}})
		if g := channelReport(t, again, w.general.ID); g.HistoryRoomID != gen.HistoryRoomID || g.Imported != 0 {
			t.Errorf("second import = %+v", g)
		}
	})
}

// TestExportThenBridge is the migration as a team runs it: import the export, then the
// bridge starts, catches up what was said since the export, and goes on live. Every message
// is in the one portal once, in order.
func TestExportThenBridge(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		want := chatter(t, w, 9)
		path, _ := w.export(t, fakeslack.ExportOptions{})
		for i := range 3 {
			body := fmt.Sprintf("after the export %d", i)
			w.post(t, body, w.alice, w.general, body)
			want = append(want, body)
		}
		st := slackstack.Start(t, slackstack.Options{DSN: dsn})
		runImport(t, st, importer.Options{Kind: importer.KindSlackExport, Path: path})
		st.Stop()

		// Slack gave up on delivering what was said before the bridge ran: only the history has it.
		w.fake.DiscardUndelivered()
		w.fake.SetTime(time.Time{})
		st = slackstack.Start(t, slackstack.Options{DSN: dsn, Workspaces: []slackbridge.WorkspaceConfig{w.workspaceConfig()}})
		room := portal(t, st, w.fake.TeamID(), w.general.ID)
		waitBodies(t, st, w.ghost(w.alice), room, want)
		if _, err := w.fake.Post(w.alice.ID, w.general.ID, "live"); err != nil {
			t.Fatal(err)
		}
		waitBodies(t, st, w.ghost(w.alice), room, append(want, "live"))
	})
}

// waitPortal waits until the live bridge has made the portal of #general.
func waitPortal(t *testing.T, st *slackstack.Stack, w *world) id.RoomID {
	t.Helper()
	var room id.RoomID
	slackstack.WaitFor(t, "the portal of #general", func() bool {
		p, err := st.Store.Portal(context.Background(), bridge.Key{Network: "slack", Workspace: w.fake.TeamID()}, w.general.ID)
		room = p.RoomID
		return err == nil
	})
	return room
}

// waitBodies waits until a room's messages are exactly want.
func waitBodies(t *testing.T, st *slackstack.Stack, reader id.UserID, room id.RoomID, want []string) {
	t.Helper()
	var got []string
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var events []*event.Event
		if events, err = readTimeline(as(t, st, reader), room); err == nil {
			got = got[:0]
			for _, m := range messages(events) {
				got = append(got, m.Content.AsMessage().Body)
			}
			if len(got) >= len(want) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the room has %q (%v), want %q", got, err, want)
	}
}

// TestBadExportsAreRefused: archives that are not exports, or not sound ones, are refused
// with an error naming the problem (and where it is), before anything is written.
func TestBadExportsAreRefused(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		chatter(t, w, 3)
		good, _ := w.export(t, fakeslack.ExportOptions{})
		st := slackstack.Start(t, slackstack.Options{DSN: dsn})
		dir := t.TempDir()
		cases := []struct {
			name, want string
			entries    map[string]string // replaced or added; "" removes
			raw        []byte            // the whole file instead
		}{
			{name: "not a zip", raw: []byte("PK? no, a text file"), want: "zip"},
			{name: "no channels.json", entries: map[string]string{"channels.json": ""}, want: "channels.json"},
			{name: "malformed day file", entries: map[string]string{"general/2024-03-01.json": `[{"type":"message","ts":"1709283600.000100","text":"ok"},{"type":`}, want: "general/2024-03-01.json"},
			{name: "escaping entry", entries: map[string]string{"../evil.json": "[]"}, want: ".."},
			{name: "unknown channel", want: "not in the export"},
			{name: "compression bomb", entries: map[string]string{"general/2099-01-01.json": "[" + strings.Repeat(" ", 8<<20) + "]"}, want: "compression ratio"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".zip")
				data := c.raw
				if data == nil {
					data = rewriteZip(t, good, c.entries)
				}
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				opts := importer.Options{Kind: importer.KindSlackExport, Path: path}
				if c.name == "unknown channel" {
					opts.Channels = []string{"no-such-channel"}
				}
				_, err := importer.Run(context.Background(), deps(st), opts, importer.NewProgress())
				if err == nil || !importer.IsInputError(err) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want an input error mentioning %q", err, c.want)
				}
			})
		}
		// Nothing was written: no space, no portal.
		key := bridge.Key{Network: "slack", Workspace: w.fake.TeamID()}
		if _, err := st.Store.Space(context.Background(), key); !bridge.IsNotFound(err) {
			t.Errorf("a refused import made the space: %v", err)
		}
		if portals, err := st.Store.Portals(context.Background(), key); err != nil || len(portals) != 0 {
			t.Errorf("a refused import made portals: %v, %v", portals, err)
		}
	})
}

// rewriteZip copies a ZIP with some entries replaced, added or ("") removed.
func rewriteZip(t *testing.T, path string, entries map[string]string) []byte {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	done := map[string]bool{}
	write := func(name, content string) {
		f, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range r.File {
		content, replaced := entries[f.Name]
		done[f.Name] = true
		if replaced {
			if content != "" {
				write(f.Name, content)
			}
			continue
		}
		if err := z.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range entries {
		if !done[name] && content != "" {
			write(name, content)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestImportFromWebAPI imports what the bot can read through the Web API of a connected
// workspace (history, threads, reactions, files), within Slack's rate limits, and fills the
// gap an export left before the bridge started: every message once, in order.
func TestImportFromWebAPI(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		want := chatter(t, w, 9)
		path, _ := w.export(t, fakeslack.ExportOptions{})
		for i := range 3 {
			body := fmt.Sprintf("after the export %d", i)
			w.post(t, body, w.alice, w.general, body)
			want = append(want, body)
		}
		if _, _, err := w.fake.UploadFile(w.bob.ID, w.general.ID, fakeslack.FileSpec{Name: "plan.txt", Data: []byte("the plan"), Comment: "the plan"}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "the plan", "plan.txt")
		w.fake.DiscardUndelivered()
		w.fake.SetTime(time.Time{})
		st := slackstack.Start(t, slackstack.Options{DSN: dsn, Workspaces: []slackbridge.WorkspaceConfig{w.workspaceConfig()}})
		room := waitPortal(t, st, w)
		st.WaitConnected(t, "acme")
		runImport(t, st, importer.Options{Kind: importer.KindSlackExport, Path: path, Workspace: "acme"})
		w.fake.RateLimit("conversations.history", 1, time.Millisecond)
		w.fake.RateLimit("conversations.replies", 1, time.Millisecond)
		rep := runImport(t, st, importer.Options{Kind: importer.KindSlackAPI, Workspace: "acme", Channels: []string{"general"}})
		if gen := channelReport(t, rep, w.general.ID); gen.Imported != 4 || gen.Failed != 0 || gen.FilesFetched != 1 {
			t.Errorf("the Web API import of #general: %+v, want the 4 messages the export lacks, with their file", gen)
		}
		waitBodies(t, st, w.ghost(w.bob), room, want)
		// From the Web API alone, into a channel never imported, said while the bridge was
		// down: threads after their roots.
		st.Stop()
		if err := w.fake.WaitDisconnected(context.Background()); err != nil {
			t.Fatal(err)
		}
		fresh, err := w.fake.AddChannel(fakeslack.ChannelSpec{Name: "fresh", Members: []string{w.alice.ID, w.bob.ID}, BotMember: true})
		if err != nil {
			t.Fatal(err)
		}
		root, _ := w.fake.Post(w.alice.ID, fresh.ID, "a root")
		w.fake.Post(w.bob.ID, fresh.ID, "next in the channel")
		w.fake.Post(w.bob.ID, fresh.ID, "a late reply", fakeslack.InThread(root))
		if err := w.fake.React(w.bob.ID, fresh.ID, root, "eyes"); err != nil {
			t.Fatal(err)
		}
		w.fake.DiscardUndelivered()
		st = slackstack.Start(t, slackstack.Options{DSN: dsn, Workspaces: []slackbridge.WorkspaceConfig{w.workspaceConfig()}})
		st.WaitConnected(t, "acme")
		runImport(t, st, importer.Options{Kind: importer.KindSlackAPI, Workspace: "acme", Channels: []string{"fresh"}})
		freshRoom := portal(t, st, w.fake.TeamID(), fresh.ID)
		events := timeline(t, as(t, st, w.ghost(w.bob)), freshRoom)
		msgs := messages(events)
		var bodies []string
		for _, m := range msgs {
			bodies = append(bodies, m.Content.AsMessage().Body)
		}
		if !slices.Equal(bodies, []string{"a root", "a late reply", "next in the channel"}) {
			t.Fatalf("#fresh = %q, want the root, its reply, then the channel", bodies)
		}
		if msgs[1].Content.AsMessage().RelatesTo.GetThreadParent() != msgs[0].ID {
			t.Error("the reply is not in the root's thread")
		}
		if !slices.ContainsFunc(events, func(ev *event.Event) bool { return ev.Type == event.EventReaction }) {
			t.Error("the reaction was not imported")
		}
	})
}
