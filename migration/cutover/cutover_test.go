package cutover_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
	"causeway/migration/cutover"
)

// env is a connected workspace with #project bridged into its portal, and a Matrix user in it.
type env struct {
	fake    *fakeslack.Server
	slack   *slackapi.Client // the bot's, to look at the channel as Slack shows it
	st      *slackstack.Stack
	svc     *cutover.Service
	alice   fakeslack.User
	project fakeslack.Channel
	room    id.RoomID
	dana    *mautrix.Client // a Matrix user in the portal
}

func startEnv(t *testing.T, dsn string, cfg slackbridge.CutoverConfig) *env {
	t.Helper()
	fake := fakeslack.New(fakeslack.Options{PingInterval: time.Second})
	t.Cleanup(fake.Close)
	e := &env{fake: fake, slack: slackapi.New(fake.BotToken(), slackapi.OptionAPIURL(fake.APIURL()))}
	e.alice = fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice"})
	var err error
	if e.project, err = fake.AddChannel(fakeslack.ChannelSpec{Name: "project", Members: []string{e.alice.ID}, BotMember: true}); err != nil {
		t.Fatal(err)
	}
	e.st = slackstack.Start(t, slackstack.Options{DSN: dsn, Cutover: &cfg, Workspaces: []slackbridge.WorkspaceConfig{{
		Name: "acme", AppToken: slackbridge.Secret(fake.AppToken()), BotToken: slackbridge.Secret(fake.BotToken()),
		APIURL: fake.APIURL(), Channels: slackbridge.ChannelList{"all"}, Relay: true,
	}}})
	db := e.st.Server.DB.SQL()
	e.svc = cutover.New(e.st.Bridge, e.st.Store, cutover.NewStore(db), e.st.Log)
	slackstack.WaitFor(t, "the portal of #project", func() bool {
		p, err := e.st.Store.Portal(context.Background(), bridge.Key{Network: "slack", Workspace: fake.TeamID()}, e.project.ID)
		e.room = p.RoomID
		return err == nil
	})
	e.dana = register(t, e.st, "dana")
	if _, err := e.dana.JoinRoomByID(context.Background(), e.room); err != nil {
		t.Fatal(err)
	}
	return e
}

func register(t *testing.T, st *slackstack.Stack, localpart string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(st.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: localpart, Password: "a long password"})
	if err != nil {
		t.Fatal(err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	return cli
}

// step takes a step and checks the state it leads to.
func (e *env) step(t *testing.T, action, wantState string) cutover.ChannelStatus {
	t.Helper()
	cs, err := e.svc.Step(context.Background(), "acme", "#project", action)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if cs.State != wantState {
		t.Fatalf("%s led to %s, want %s", action, cs.State, wantState)
	}
	return cs
}

// say sends a message from Matrix as dana.
func (e *env) say(t *testing.T, text string) {
	t.Helper()
	if _, err := e.dana.SendText(context.Background(), e.room, text); err != nil {
		t.Fatal(err)
	}
}

// inSlack reports whether #project holds a message containing text.
func (e *env) inSlack(t *testing.T, text string) bool {
	t.Helper()
	msgs, err := e.fake.Messages(e.project.ID)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(msgs, func(m fakeslack.Message) bool { return strings.Contains(m.Text, text) })
}

// inMatrix reports whether the portal holds a message with body text.
func (e *env) inMatrix(t *testing.T, text string) bool {
	t.Helper()
	resp, err := e.dana.Messages(context.Background(), e.room, "", "", mautrix.DirectionBackward, nil, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range resp.Chunk {
		if ev.Type == event.EventMessage {
			_ = ev.Content.ParseRaw(ev.Type)
			if ev.Content.AsMessage().Body == text {
				return true
			}
		}
	}
	return false
}

// channel is #project as the bot sees it in Slack.
func (e *env) channel(t *testing.T) *slackapi.Channel {
	t.Helper()
	ch, err := e.slack.GetConversationInfo(&slackapi.GetConversationInfoInput{ChannelID: e.project.ID})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// pinned lists the texts of the messages pinned in #project.
func (e *env) pinned(t *testing.T) []string {
	t.Helper()
	items, _, err := e.slack.ListPins(e.project.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if it.Message != nil {
			out = append(out, it.Message.Text)
		}
	}
	return out
}

// TestCutoverWalk walks #project through every step and back: bridged both ways, then the
// cutover (a pinned notice with the room's link, the topic, Matrix no longer posting to Slack
// while Slack stragglers still arrive), a rollback, the cutover again, the archive; and the
// workspace summary counts it all.
func TestCutoverWalk(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, dsn, slackbridge.CutoverConfig{SetTopic: true, RelayStragglers: true, Message: "See you there!"})
		ctx := context.Background()

		st, err := e.svc.Status(ctx, "acme")
		if err != nil || len(st.Channels) != 1 || st.Channels[0].State != cutover.StatePlanned || st.Channels[0].MatrixPeople != 1 {
			t.Fatalf("status before = %+v, %v", st, err)
		}
		e.step(t, cutover.ActionBridge, cutover.StateBridged)
		e.say(t, "hello from matrix")
		slackstack.WaitFor(t, "the Matrix message in Slack", func() bool { return e.inSlack(t, "hello from matrix") })

		e.step(t, cutover.ActionCutover, cutover.StateMatrixPrimary)
		link := e.room.URI("localhost").MatrixToURL()
		if pins := e.pinned(t); len(pins) != 1 || !strings.Contains(pins[0], link) || !strings.Contains(pins[0], "See you there!") {
			t.Errorf("pinned after the cutover: %q, want the notice with %s", pins, link)
		}
		if topic := e.channel(t).Topic.Value; !strings.Contains(topic, link) {
			t.Errorf("topic after the cutover = %q", topic)
		}
		e.say(t, "only on matrix now")
		if _, err := e.fake.Post(e.alice.ID, e.project.ID, "a straggler"); err != nil {
			t.Fatal(err)
		}
		slackstack.WaitFor(t, "the straggler in Matrix", func() bool { return e.inMatrix(t, "a straggler") })
		if e.inSlack(t, "only on matrix now") {
			t.Error("a Matrix message went to Slack after the cutover")
		}

		e.step(t, cutover.ActionRollback, cutover.StateBridged)
		if pins := e.pinned(t); len(pins) != 0 {
			t.Errorf("still pinned after the rollback: %q", pins)
		}
		e.say(t, "back to both ways")
		slackstack.WaitFor(t, "the Matrix message in Slack after the rollback", func() bool { return e.inSlack(t, "back to both ways") })

		e.step(t, cutover.ActionCutover, cutover.StateMatrixPrimary)
		e.step(t, cutover.ActionArchive, cutover.StateArchived)
		if !e.channel(t).IsArchived {
			t.Error("the channel is not archived in Slack")
		}
		sum, err := e.svc.Summary(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if sum.States[cutover.StateArchived] != 1 || sum.States[cutover.StatePlanned] != 0 {
			t.Errorf("summary states = %v", sum.States)
		}
		if last := sum.Weekly[len(sum.Weekly)-1]; last.People != 1 {
			t.Errorf("people active on Matrix this week = %d, want 1 (dana)", last.People)
		}
		// The bot cannot unarchive: rolling back the cutover of an archived channel is refused.
		e.step(t, cutover.ActionRollback, cutover.StateMatrixPrimary)
		_, err = e.svc.Step(ctx, "acme", "#project", cutover.ActionRollback)
		if err == nil || !strings.Contains(err.Error(), "unarchive") {
			t.Errorf("rolling back the cutover of an archived channel: %v, want a refusal naming the unarchiving", err)
		}
	})
}

// TestCutoverRefusals: steps out of order, unknown channels and workspaces are refused with
// the kind of error the admin API answers with, and change nothing.
func TestCutoverRefusals(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, dsn, slackbridge.CutoverConfig{})
		ctx := context.Background()
		cases := []struct {
			workspace, channel, action string
			want                       string // NotFound, Conflict or BadRequest
		}{
			{"acme", "#project", cutover.ActionCutover, "Conflict"},
			{"acme", "#project", cutover.ActionArchive, "Conflict"},
			{"acme", "#project", cutover.ActionRollback, "Conflict"},
			{"acme", "#project", "explode", "BadRequest"},
			{"acme", "#nowhere", cutover.ActionBridge, "NotFound"},
			{"nowhere", "#project", cutover.ActionBridge, "NotFound"},
		}
		for _, c := range cases {
			_, err := e.svc.Step(ctx, c.workspace, c.channel, c.action)
			var ce *cutover.Error
			if !errors.As(err, &ce) {
				t.Errorf("%s %s %s: %v, want a cutover.Error", c.workspace, c.channel, c.action, err)
				continue
			}
			kind := map[bool]string{true: "NotFound"}[ce.NotFound()] + map[bool]string{true: "Conflict"}[ce.Conflict()] + map[bool]string{true: "BadRequest"}[ce.BadRequest()]
			if kind != c.want {
				t.Errorf("%s %s %s: %v is %s, want %s", c.workspace, c.channel, c.action, err, kind, c.want)
			}
		}
		st, err := e.svc.Status(ctx, "acme")
		if err != nil || st.Channels[0].State != cutover.StatePlanned {
			t.Errorf("after refusals: %+v, %v; want #project still planned", st, err)
		}
	})
}

// TestCutoverRetryReusesNotice: a cutover that fails after posting its notice (Slack refuses
// to archive #general) is refused with Slack's reason, and trying again posts no second notice.
func TestCutoverRetryReusesNotice(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, dsn, slackbridge.CutoverConfig{Archive: true})
		general, err := e.fake.AddChannel(fakeslack.ChannelSpec{Name: "general", General: true, Members: []string{e.alice.ID}, BotMember: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := e.st.Bridge.BridgeChannel(ctx, "acme", general.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Step(ctx, "acme", "general", cutover.ActionBridge); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := e.svc.Step(ctx, "acme", "general", cutover.ActionCutover); err == nil || !strings.Contains(err.Error(), "conversations.archive") {
				t.Fatalf("cutover of #general with archiving: %v, want Slack's refusal to archive it", err)
			}
		}
		msgs, err := e.fake.Messages(general.ID)
		if err != nil {
			t.Fatal(err)
		}
		notices := 0
		for _, m := range msgs {
			if strings.Contains(m.Text, "moved to Matrix") {
				notices++
			}
		}
		if notices != 1 {
			t.Errorf("%d cutover notices in #general after two attempts, want 1", notices)
		}
	})
}
