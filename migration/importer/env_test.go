package importer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/accounts"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
	"causeway/migration/cutover"
	"causeway/migration/importer"
)

// world is a Slack workspace with a history worth importing: every kind of conversation and
// the message subtypes an export holds.
type world struct {
	fake                              *fakeslack.Server
	alice, bob, carol, dave           fakeslack.User
	general, secret, old, dm, groupDM fakeslack.Channel
	ts                                map[string]string // what each message is -> its ts
}

// start is when the world's history begins.
var start = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func newWorld(t *testing.T) *world {
	t.Helper()
	fake := fakeslack.New(fakeslack.Options{Now: start, PingInterval: time.Second})
	t.Cleanup(fake.Close)
	w := &world{fake: fake, ts: map[string]string{}}
	w.alice = fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice Liddell", Email: "alice@example.org"})
	w.bob = fake.AddUser(fakeslack.UserSpec{Name: "bob", RealName: "Bob Builder", DisplayName: "bobby"})
	w.carol = fake.AddUser(fakeslack.UserSpec{Name: "carol", RealName: "Carol Danvers", Email: "carol@example.org"})
	w.dave = fake.AddUser(fakeslack.UserSpec{Name: "dave", RealName: "Dave Gone", Deleted: true})
	everyone := []string{w.alice.ID, w.bob.ID, w.carol.ID}
	w.general = w.channel(t, fakeslack.ChannelSpec{Name: "general", General: true, Members: everyone, Topic: "Everything"})
	w.secret = w.channel(t, fakeslack.ChannelSpec{Name: "secret", Private: true, Members: []string{w.alice.ID, w.carol.ID}})
	w.old = w.channel(t, fakeslack.ChannelSpec{Name: "old-project", Members: []string{w.alice.ID, w.bob.ID}})
	var err error
	if w.dm, err = fake.OpenDM(w.alice.ID, w.bob.ID); err != nil {
		t.Fatal(err)
	}
	if w.groupDM, err = fake.OpenDM(w.alice.ID, w.bob.ID, w.carol.ID); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) channel(t *testing.T, spec fakeslack.ChannelSpec) fakeslack.Channel {
	t.Helper()
	spec.BotMember = true
	ch, err := w.fake.AddChannel(spec)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// post posts text as user in a channel and remembers its ts as label.
func (w *world) post(t *testing.T, label string, user fakeslack.User, ch fakeslack.Channel, text string, opts ...fakeslack.PostOption) string {
	t.Helper()
	ts, err := w.fake.Post(user.ID, ch.ID, text, opts...)
	if err != nil {
		t.Fatalf("post %s: %v", label, err)
	}
	w.ts[label] = ts
	w.fake.Advance(time.Minute)
	return ts
}

// tell writes the history: a thread whose reply is a day after its root, Unicode and emoji,
// a /me, an edit, reactions by many users, a mention, files (one deleted since), a topic
// change, a thread broadcast, messages of subtypes the fake does not make (a huddle, a
// canvas, a pin, an integration's bot message, a join), DMs, and an archived channel.
func (w *world) tell(t *testing.T) {
	t.Helper()
	f := w.fake
	hello := w.post(t, "hello", w.alice, w.general, "Hello 🌍, ünïcödé and :tada:")
	for _, u := range []fakeslack.User{w.bob, w.carol, w.alice} {
		if err := f.React(u.ID, w.general.ID, hello, "+1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.React(w.carol.ID, w.general.ID, hello, "tada"); err != nil {
		t.Fatal(err)
	}
	root := w.post(t, "question", w.bob, w.general, "Where is the *design doc*?")
	f.Advance(24 * time.Hour)
	w.post(t, "answer", w.alice, w.general, "In the wiki, <@"+w.bob.ID+">", fakeslack.InThread(root))
	w.post(t, "broadcast", w.carol, w.general, "Found it, thanks", fakeslack.InThread(root), fakeslack.Broadcast())
	if _, err := f.MeMessage(w.bob.ID, w.general.ID, "waves"); err != nil {
		t.Fatal(err)
	}
	draft := w.post(t, "edited", w.alice, w.general, "a drfat")
	if err := f.Edit(w.alice.ID, w.general.ID, draft, "a draft, fixed"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetTopic(w.alice.ID, w.general.ID, "Plans for spring"); err != nil {
		t.Fatal(err)
	}
	if _, ts, err := f.UploadFile(w.alice.ID, w.general.ID, fakeslack.FileSpec{Name: "notes.txt", Data: []byte("the meeting notes"), Comment: "notes attached"}); err != nil {
		t.Fatal(err)
	} else {
		w.ts["file"] = ts
	}
	if _, ts, err := f.UploadFile(w.bob.ID, w.general.ID, fakeslack.FileSpec{Name: "gone.png", Data: []byte("not an image")}); err != nil {
		t.Fatal(err)
	} else {
		w.ts["deleted file"] = ts
	}
	for _, label := range []string{"huddle", "canvas", "pin", "integration"} {
		w.post(t, label, w.carol, w.general, "placeholder for the "+label)
	}
	if err := f.Join(w.carol.ID, w.old.ID); err != nil {
		t.Fatal(err)
	}
	w.post(t, "old", w.bob, w.old, "the last word in an old project")
	if err := f.Archive(w.bob.ID, w.old.ID); err != nil {
		t.Fatal(err)
	}
	w.post(t, "secret", w.carol, w.secret, "only for the two of us")
	w.post(t, "dm", w.alice, w.dm, "psst, Bob")
	w.post(t, "group dm", w.bob, w.groupDM, "lunch, you three?")
	w.post(t, "last", w.alice, w.general, "that's all for today")
}

// tamper turns the placeholders into the subtypes the fake does not make, and marks the
// deleted file as Slack does, as the export is written.
func (w *world) tamper(channelID string, m *fakeslack.Message) {
	switch m.TS {
	case w.ts["huddle"]:
		m.Subtype, m.Text, m.Blocks = "huddle_thread", "A huddle happened", nil
	case w.ts["canvas"]:
		m.Subtype, m.Text, m.Blocks = "canvas_update", "Roadmap canvas updated", nil
	case w.ts["pin"]:
		m.Subtype, m.Text, m.Blocks = "pinned_item", "<@"+w.carol.ID+"> pinned a message to this channel.", nil
	case w.ts["integration"]:
		m.Subtype, m.User, m.BotID, m.Username, m.Text, m.Blocks = "bot_message", "", "B0DEPLOY", "deploybot", "Deployed v1.2.3", nil
	case w.ts["deleted file"]:
		m.Files[0].Mode = "tombstone"
	}
}

// export writes the workspace's export to a file and returns its path and file token.
func (w *world) export(t *testing.T, opts fakeslack.ExportOptions) (string, string) {
	t.Helper()
	if opts.Tamper == nil {
		opts.Tamper = w.tamper
	}
	var buf bytes.Buffer
	token, err := w.fake.Export(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "export.zip")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, token
}

// workspaceConfig configures the fake's workspace in the bridge.
func (w *world) workspaceConfig() slackbridge.WorkspaceConfig {
	return slackbridge.WorkspaceConfig{
		Name: "acme", AppToken: slackbridge.Secret(w.fake.AppToken()), BotToken: slackbridge.Secret(w.fake.BotToken()),
		APIURL: w.fake.APIURL(), Channels: slackbridge.ChannelList{"all"}, Relay: true,
	}
}

// ghost is the Matrix user of a Slack user of the world.
func (w *world) ghost(u fakeslack.User) id.UserID {
	return id.UserID("@slack_" + strings.ToLower(w.fake.TeamID()) + "_" + strings.ToLower(u.ID) + ":localhost")
}

// deps are the importer's dependencies on a running stack.
func deps(st *slackstack.Stack) importer.Deps {
	db := st.Server.DB.SQL()
	return importer.Deps{Bridge: st.Bridge, Bridges: st.Store, Store: importer.NewStore(db), Records: cutover.NewStore(db), Log: st.Log}
}

// register makes a Matrix account.
func register(t *testing.T, st *slackstack.Stack, localpart string) id.UserID {
	t.Helper()
	session, err := st.Server.Accounts.Register(context.Background(), accounts.RegisterParams{Localpart: localpart, Password: "a long password", InhibitLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	return session.UserID
}

// as is a Matrix client acting as userID through the bridge's appservice token: it sees the
// rooms as that user sees them.
func as(t *testing.T, st *slackstack.Stack, userID id.UserID) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(st.URL, userID, st.ASToken)
	if err != nil {
		t.Fatal(err)
	}
	cli.SetAppServiceUserID = true
	return cli
}

// timeline returns a room's events as cli sees them, oldest first.
func timeline(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	events, err := readTimeline(cli, roomID)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func readTimeline(cli *mautrix.Client, roomID id.RoomID) ([]*event.Event, error) {
	resp, err := cli.Messages(context.Background(), roomID, "", "", mautrix.DirectionBackward, nil, 1000)
	if err != nil {
		return nil, fmt.Errorf("messages of %s as %s: %w", roomID, cli.UserID, err)
	}
	out := make([]*event.Event, 0, len(resp.Chunk))
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		ev := resp.Chunk[i]
		_ = ev.Content.ParseRaw(ev.Type)
		out = append(out, ev)
	}
	return out, nil
}

// messages keeps the m.room.message events of a timeline that are not edits.
func messages(events []*event.Event) []*event.Event {
	var out []*event.Event
	for _, ev := range events {
		if ev.Type == event.EventMessage && ev.Content.AsMessage().RelatesTo.GetReplaceID() == "" {
			out = append(out, ev)
		}
	}
	return out
}

// portal returns a conversation's portal room.
func portal(t *testing.T, st *slackstack.Stack, teamID, channelID string) id.RoomID {
	t.Helper()
	p, err := st.Store.Portal(context.Background(), bridge.Key{Network: "slack", Workspace: teamID}, channelID)
	if err != nil {
		t.Fatalf("portal of %s: %v", channelID, err)
	}
	return p.RoomID
}

// runImport runs an import to the end and fails the test on error.
func runImport(t *testing.T, st *slackstack.Stack, opts importer.Options) *importer.Report {
	t.Helper()
	rep, err := importer.Run(context.Background(), deps(st), opts, importer.NewProgress())
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep
}

// channelReport finds a conversation's part of a report.
func channelReport(t *testing.T, rep *importer.Report, channelID string) importer.ChannelReport {
	t.Helper()
	for _, c := range rep.Channels {
		if c.ID == channelID {
			return c
		}
	}
	t.Fatalf("no report for %s in %+v", channelID, rep.Channels)
	return importer.ChannelReport{}
}
