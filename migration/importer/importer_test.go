package importer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
	"causeway/migration/importer"
	"causeway/migration/slackexport"
)

// TestImportExport imports an export into a server where the workspace is not configured:
// the rooms are the bridge's, with the members, messages in order at Slack's times, threads,
// reactions, edits, files and the other subtypes; carol's history is her own account's.
// A second import changes nothing.
func TestImportExport(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		w := newWorld(t)
		w.tell(t)
		path, _ := w.export(t, fakeslack.ExportOptions{})
		st := slackstack.Start(t, slackstack.Options{DSN: dsn})
		carol := register(t, st, "carol")
		opts := importer.Options{Kind: importer.KindSlackExport, Path: path, UserMap: map[string]string{"carol@example.org": carol.String()}}
		rep := runImport(t, st, opts)

		team := w.fake.TeamID()
		general := portal(t, st, team, w.general.ID)
		reader := as(t, st, w.ghost(w.alice))
		events := timeline(t, reader, general)
		checkGeneral(t, w, events, carol)

		gen := channelReport(t, rep, w.general.ID)
		if gen.Failed != 0 || gen.FilesFetched != 1 || len(gen.FilesMissing) != 1 || gen.FilesMissing[0].Name != "gone.png" ||
			!strings.Contains(gen.FilesMissing[0].Reason, "deleted") || gen.Threads != 1 {
			t.Errorf("report of #general = %+v", gen)
		}
		if !slices.Contains(rep.UnmappedUsers, "alice") || slices.Contains(rep.UnmappedUsers, "carol") || slices.Contains(rep.UnmappedUsers, "dave") {
			t.Errorf("unmapped users = %v, want alice and bob but not carol (mapped) or dave (deleted)", rep.UnmappedUsers)
		}

		checkOtherConversations(t, w, st, carol)

		// Ghosts have the names and avatars of users.json.
		for _, g := range []struct {
			user fakeslack.User
			name string
		}{{w.alice, "Alice Liddell"}, {w.bob, "bobby"}} {
			profile, err := reader.GetProfile(context.Background(), w.ghost(g.user))
			if err != nil || profile.DisplayName != g.name || profile.AvatarURL.IsEmpty() {
				t.Errorf("profile of %s's ghost = %+v, %v; want %q with an avatar", g.user.Name, profile, err, g.name)
			}
		}

		// Twice is once: nothing is sent again.
		again := runImport(t, st, opts)
		for _, c := range again.Channels {
			if c.Imported != 0 || c.Failed != 0 || c.Skipped != c.Messages {
				t.Errorf("second import of %s: %+v, want everything skipped", c.Name, c)
			}
		}
		if n := len(timeline(t, reader, general)); n != len(events) {
			t.Errorf("#general has %d events after a second import, %d after the first", n, len(events))
		}
	})
}

// checkGeneral checks the timeline of #general.
func checkGeneral(t *testing.T, w *world, events []*event.Event, carol id.UserID) {
	t.Helper()
	msgs := messages(events)
	type want struct {
		label  string
		sender id.UserID
		typ    event.MessageType
		body   string
	}
	alice, bob := w.ghost(w.alice), w.ghost(w.bob)
	wants := []want{
		{"hello", alice, event.MsgText, "Hello 🌍, ünïcödé and 🎉"},
		{"question", bob, event.MsgText, "Where is the design doc?"},
		{"answer", alice, event.MsgText, "In the wiki,"},
		{"broadcast", carol, event.MsgText, "Found it, thanks"},
		{"broadcast", carol, event.MsgText, "Found it, thanks"},
		{"", bob, event.MsgEmote, "waves"},
		{"edited", alice, event.MsgText, "a draft, fixed"},
		{"file", alice, event.MsgText, "notes attached"},
		{"file", alice, event.MsgFile, "notes.txt"},
		{"deleted file", bob, event.MsgNotice, "📎 gone.png (12 B) could not be copied from Slack"},
		{"huddle", carol, event.MsgNotice, "📞 Huddle: A huddle happened"},
		{"canvas", carol, event.MsgNotice, "📝 Canvas: Roadmap canvas updated"},
		{"pin", carol, event.MsgNotice, "📌 "},
		{"integration", "", event.MsgNotice, "Deployed v1.2.3"},
		{"last", alice, event.MsgText, "that's all for today"},
	}
	if len(msgs) != len(wants) {
		for _, m := range msgs {
			t.Logf("%s %s %q", m.Sender, m.Content.AsMessage().MsgType, m.Content.AsMessage().Body)
		}
		t.Fatalf("#general has %d messages, want %d", len(msgs), len(wants))
	}
	for i, want := range wants {
		got := msgs[i]
		c := got.Content.AsMessage()
		if (want.sender != "" && got.Sender != want.sender) || c.MsgType != want.typ || !strings.HasPrefix(c.Body, want.body) {
			t.Errorf("message %d = %s %s %q, want %s %s %q", i, got.Sender, c.MsgType, c.Body, want.sender, want.typ, want.body)
		}
		if ts := w.ts[want.label]; ts != "" && got.Timestamp != slackexport.TS(ts).Time().UnixMilli() {
			t.Errorf("message %d (%s) has origin_server_ts %d, want Slack's %s", i, want.label, got.Timestamp, ts)
		}
	}
	if rel := msgs[2].Content.AsMessage().RelatesTo; rel.GetThreadParent() != msgs[1].ID {
		t.Errorf("the answer is not in the question's thread: %+v", rel)
	}
	if !strings.Contains(msgs[2].Content.AsMessage().FormattedBody, "https://matrix.to/#/"+w.ghost(w.bob).String()) {
		t.Errorf("the mention of bob is not a pill: %q", msgs[2].Content.AsMessage().FormattedBody)
	}
	if msgs[3].Content.AsMessage().RelatesTo.GetThreadParent() != msgs[1].ID || msgs[4].Content.AsMessage().RelatesTo.GetThreadParent() != "" {
		t.Error("a thread broadcast is not once in the thread and once in the channel")
	}
	integration := msgs[13].Sender
	if !strings.HasPrefix(integration.String(), "@slack_") || !strings.Contains(integration.String(), "b0deploy") {
		t.Errorf("the integration's message is from %s, want its bot's ghost", integration)
	}
	checkEditAndReactions(t, w, events, msgs, carol)
	checkTopic(t, w, events)
}

// checkEditAndReactions: the edited message has its edit, the greeting every reaction.
func checkEditAndReactions(t *testing.T, w *world, events, msgs []*event.Event, carol id.UserID) {
	t.Helper()
	var edits, reactions []string
	for _, ev := range events {
		switch ev.Type {
		case event.EventMessage:
			if target := ev.Content.AsMessage().RelatesTo.GetReplaceID(); target != "" {
				edits = append(edits, fmt.Sprintf("%s %s", target, ev.Content.AsMessage().NewContent.Body))
			}
		case event.EventReaction:
			rel := ev.Content.AsReaction().RelatesTo
			if rel.EventID == msgs[0].ID {
				reactions = append(reactions, fmt.Sprintf("%s %s", ev.Sender, rel.Key))
			}
		}
	}
	if len(edits) != 1 || edits[0] != fmt.Sprintf("%s a draft, fixed", msgs[6].ID) {
		t.Errorf("edits = %v, want one of %s", edits, msgs[6].ID)
	}
	slices.Sort(reactions)
	want := []string{
		fmt.Sprintf("%s 👍", w.ghost(w.alice)), fmt.Sprintf("%s 👍", w.ghost(w.bob)),
		fmt.Sprintf("%s 👍", carol), fmt.Sprintf("%s 🎉", carol),
	}
	slices.Sort(want)
	if fmt.Sprint(reactions) != fmt.Sprint(want) {
		t.Errorf("reactions to the greeting = %v, want %v", reactions, want)
	}
}

// checkTopic: the topic change is the author's state event, at its Slack time.
func checkTopic(t *testing.T, w *world, events []*event.Event) {
	t.Helper()
	for _, ev := range events {
		if ev.Type == event.StateTopic && ev.Content.AsTopic().Topic == "Plans for spring" && ev.Sender == w.ghost(w.alice) {
			return
		}
	}
	t.Error("the topic change is not in #general")
}

// checkOtherConversations: the private channel, the archived one (read-only), the DM and
// the group DM have their portals and messages; the file's bytes are in the media repository.
func checkOtherConversations(t *testing.T, w *world, st *slackstack.Stack, carol id.UserID) {
	t.Helper()
	ctx := context.Background()
	team := w.fake.TeamID()
	for _, c := range []struct {
		ch     fakeslack.Channel
		reader id.UserID
		sender id.UserID
		bodies []string
	}{
		{w.secret, w.ghost(w.alice), carol, []string{"only for the two of us"}},
		// Channel events other than joins, leaves and changes of name and topic are summarised.
		{w.old, w.ghost(w.bob), w.ghost(w.bob), []string{"the last word in an old project", "archived the channel"}},
		{w.dm, w.ghost(w.alice), w.ghost(w.alice), []string{"psst, Bob"}},
		{w.groupDM, w.ghost(w.bob), w.ghost(w.bob), []string{"lunch, you three?"}},
	} {
		room := portal(t, st, team, c.ch.ID)
		var got []string
		for _, m := range messages(timeline(t, as(t, st, c.reader), room)) {
			if m.Sender != c.sender {
				t.Errorf("%s: a message from %s, want %s", c.ch.ID, m.Sender, c.sender)
			}
			got = append(got, m.Content.AsMessage().Body)
		}
		if !slices.Equal(got, c.bodies) {
			t.Errorf("%s: messages %q, want %q", c.ch.ID, got, c.bodies)
		}
	}
	var pl event.PowerLevelsEventContent
	if err := as(t, st, w.ghost(w.bob)).StateEvent(ctx, portal(t, st, team, w.old.ID), event.StatePowerLevels, "", &pl); err != nil {
		t.Fatal(err)
	}
	if pl.EventsDefault < 100 {
		t.Errorf("the archived channel's portal lets members post (events_default %d)", pl.EventsDefault)
	}
	msgs := messages(timeline(t, as(t, st, w.ghost(w.alice)), portal(t, st, team, w.general.ID)))
	file := msgs[8].Content.AsMessage()
	uri, err := file.URL.Parse()
	if err != nil {
		t.Fatal(err)
	}
	data, err := as(t, st, w.ghost(w.alice)).DownloadBytes(ctx, uri)
	if err != nil || string(data) != "the meeting notes" {
		t.Errorf("the imported file = %q, %v", data, err)
	}
}
