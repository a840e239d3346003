package fakeslack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"causeway/internal/fakeslack"
)

// eventTimeout bounds each wait for a Socket Mode event.
const eventTimeout = 5 * time.Second

// socketClient runs slack-go's socketmode client against the fake until the test ends.
type socketClient struct {
	*socketmode.Client
	done chan error // RunContext's result
}

func (f *fixture) startSocket(t *testing.T, opts ...socketmode.Option) *socketClient {
	t.Helper()
	api := slackgo.New(f.srv.BotToken(), slackgo.OptionAPIURL(f.srv.APIURL()), slackgo.OptionAppLevelToken(f.srv.AppToken()))
	c := &socketClient{Client: socketmode.New(api, opts...), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.done <- c.RunContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

// next returns the next event of type want, skipping connection events.
func (c *socketClient) next(t *testing.T, want socketmode.EventType) socketmode.Event {
	t.Helper()
	timeout := time.After(eventTimeout)
	for {
		select {
		case ev := <-c.Events:
			switch ev.Type {
			case want:
				return ev
			case socketmode.EventTypeErrorBadMessage:
				// A message slack-go could not parse: the fake sent a wrong shape. (Read
				// errors, reported as incoming_error, are normal when it reconnects.)
				t.Fatalf("socketmode could not parse a message: %+v", ev.Data)
			}
		case <-timeout:
			t.Fatalf("no %s event within %s", want, eventTimeout)
		}
	}
}

// nextEvent returns the next events_api request and its inner event.
func (c *socketClient) nextEvent(t *testing.T) (*socketmode.Request, any) {
	t.Helper()
	ev := c.next(t, socketmode.EventTypeEventsAPI)
	return ev.Request, ev.Data.(slackevents.EventsAPIEvent).InnerEvent.Data
}

// ackNext acknowledges the next events_api request and returns its inner event.
func (c *socketClient) ackNext(t *testing.T) any {
	t.Helper()
	req, inner := c.nextEvent(t)
	if err := c.Ack(*req); err != nil {
		t.Fatal(err)
	}
	return inner
}

func waitAcked(t *testing.T, srv *fakeslack.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := srv.WaitAcked(ctx); err != nil {
		t.Fatalf("envelopes not acknowledged: %v (%d left)", err, srv.Unacked())
	}
}

func TestSocketModeDelivers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	elsewhere, err := f.srv.AddChannel(fakeslack.ChannelSpec{Name: "elsewhere", Members: []string{f.alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	c := f.startSocket(t)
	hello := c.next(t, socketmode.EventTypeHello)
	if hello.Request.ConnectionInfo.AppID != f.srv.AppID() || hello.Request.NumConnections != 1 {
		t.Errorf("hello = %+v", hello.Request)
	}

	if _, err := f.srv.Post(f.alice.ID, elsewhere.ID, "not for the bot"); err != nil {
		t.Fatal(err)
	}
	ts := f.post(t, f.alice.ID, "hello bot")
	req, inner := c.nextEvent(t)
	if req.RetryAttempt != 0 || req.EnvelopeID == "" {
		t.Errorf("envelope = %+v", req)
	}
	msg, ok := inner.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner event is %T, want a message", inner)
	}
	want := slackevents.MessageEvent{User: f.alice.ID, Text: "hello bot", TimeStamp: ts, Channel: f.general.ID, ChannelType: "channel", EventTimeStamp: ts}
	got := slackevents.MessageEvent{User: msg.User, Text: msg.Text, TimeStamp: msg.TimeStamp, Channel: msg.Channel, ChannelType: msg.ChannelType, EventTimeStamp: msg.EventTimeStamp}
	if diff := cmp.Diff(want, got); diff != "" || msg.ClientMsgID == "" || len(msg.Blocks.BlockSet) != 1 {
		t.Errorf("message event (-want +got):\n%s\nclient_msg_id %q, %d blocks", diff, msg.ClientMsgID, len(msg.Blocks.BlockSet))
	}
	if f.srv.Unacked() != 1 {
		t.Errorf("unacked = %d before the ack, want 1", f.srv.Unacked())
	}
	if err := c.Ack(*req); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, f.srv)

	// The bot's own messages come back too, marked with its bot_id.
	if _, _, err := f.bot.PostMessageContext(context.Background(), f.general.ID, slackgo.MsgOptionText("echo", false)); err != nil {
		t.Fatal(err)
	}
	echo := c.ackNext(t).(*slackevents.MessageEvent)
	if echo.BotID != f.srv.BotID() || echo.Text != "echo" {
		t.Errorf("echo = %+v", echo)
	}
	waitAcked(t, f.srv)
}

func TestSocketModeEventShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	c := f.startSocket(t)
	c.next(t, socketmode.EventTypeHello)
	ts := f.post(t, f.alice.ID, "first")
	c.ackNext(t)

	steps := []struct {
		name  string
		act   func() error
		check func(t *testing.T, ev any)
	}{{
		name: "edit",
		act:  func() error { return f.srv.Edit(f.alice.ID, f.general.ID, ts, "second") },
		check: func(t *testing.T, ev any) {
			m := ev.(*slackevents.MessageEvent)
			if m.SubType != "message_changed" || m.Message.Text != "second" || m.PreviousMessage.Text != "first" ||
				m.Message.Edited == nil || m.Message.Edited.User != f.alice.ID {
				t.Errorf("message_changed = %+v / %+v", m, m.Message)
			}
		},
	}, {
		name: "react",
		act:  func() error { return f.srv.React(f.bob.ID, f.general.ID, ts, "tada") },
		check: func(t *testing.T, ev any) {
			r := ev.(*slackevents.ReactionAddedEvent)
			if r.Reaction != "tada" || r.User != f.bob.ID || r.ItemUser != f.alice.ID || r.Item.Timestamp != ts {
				t.Errorf("reaction_added = %+v", r)
			}
		},
	}, {
		name: "pin",
		act:  func() error { return f.srv.Pin(f.bob.ID, f.general.ID, ts) },
		check: func(t *testing.T, ev any) {
			if p := ev.(*slackevents.PinAddedEvent); p.Channel != f.general.ID || p.User != f.bob.ID {
				t.Errorf("pin_added = %+v", p)
			}
		},
	}, {
		name: "me",
		act: func() error {
			_, err := f.srv.MeMessage(f.bob.ID, f.general.ID, "waves")
			return err
		},
		check: func(t *testing.T, ev any) {
			if m := ev.(*slackevents.MessageEvent); m.SubType != "me_message" || m.Text != "waves" {
				t.Errorf("me_message = %+v", m)
			}
		},
	}, {
		name: "delete",
		act:  func() error { return f.srv.Delete(f.alice.ID, f.general.ID, ts) },
		check: func(t *testing.T, ev any) {
			m := ev.(*slackevents.MessageEvent)
			if m.SubType != "message_deleted" || m.DeletedTimeStamp != ts || m.PreviousMessage.Text != "second" {
				t.Errorf("message_deleted = %+v", m)
			}
		},
	}, {
		name: "profile",
		act: func() error {
			_, err := f.srv.UpdateUser(f.bob.ID, func(u *fakeslack.UserSpec) { u.DisplayName = "bobby" })
			return err
		},
		check: func(t *testing.T, ev any) {
			if u := ev.(*slackevents.UserChangeEvent); u.User.ID != f.bob.ID || u.User.Profile.DisplayName != "bobby" {
				t.Errorf("user_change = %+v", u)
			}
		},
	}, {
		name: "broadcast",
		act: func() error {
			parent := f.post(t, f.bob.ID, "parent")
			c.ackNext(t)
			_, err := f.srv.Post(f.alice.ID, f.general.ID, "reply", fakeslack.InThread(parent), fakeslack.Broadcast())
			return err
		},
		check: func(t *testing.T, ev any) {
			m := ev.(*slackevents.MessageEvent)
			if m.SubType != "thread_broadcast" || m.Root == nil || m.Root.Text != "parent" || m.ThreadTimeStamp != m.Root.Timestamp {
				t.Errorf("thread_broadcast = %+v, root %+v", m, m.Root)
			}
		},
	}, {
		name: "create",
		act: func() error {
			_, err := f.srv.CreateChannel(f.alice.ID, "fresh", false)
			return err
		},
		check: func(t *testing.T, ev any) {
			if c := ev.(*slackevents.ChannelCreatedEvent); c.Channel.Name != "fresh" || c.Channel.Creator != f.alice.ID {
				t.Errorf("channel_created = %+v", c)
			}
		},
	}, {
		name: "file",
		act: func() error {
			_, _, err := f.srv.UploadFile(f.bob.ID, f.general.ID, fakeslack.FileSpec{Name: "a.txt", Data: []byte("a")})
			return err
		},
		check: func(t *testing.T, ev any) {
			m := ev.(*slackevents.MessageEvent)
			if m.SubType != "file_share" || len(m.Message.Files) != 1 || m.Message.Files[0].Name != "a.txt" || !m.Message.Upload {
				t.Errorf("file share = %+v / %+v", m, m.Message)
			}
		},
	}}
	for _, step := range steps {
		if err := step.act(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		step.check(t, c.ackNext(t))
	}

	// Joining announces the member and posts channel_join, renaming sends channel_rename
	// and a channel_name message, and leaving posts channel_leave and announces it.
	carol := f.srv.AddUser(fakeslack.UserSpec{Name: "carol"})
	if err := f.srv.Join(carol.ID, f.general.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Rename(carol.ID, f.general.ID, "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Leave(carol.ID, f.general.ID); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for range 6 {
		switch ev := c.ackNext(t).(type) {
		case *slackevents.MessageEvent:
			kinds = append(kinds, "message/"+ev.SubType)
		case *slackevents.MemberJoinedChannelEvent:
			kinds = append(kinds, "member_joined_channel")
		case *slackevents.ChannelRenameEvent:
			kinds = append(kinds, "channel_rename/"+ev.Channel.Name)
		case *slackevents.MemberLeftChannelEvent:
			kinds = append(kinds, "member_left_channel")
		default:
			kinds = append(kinds, "unexpected")
		}
	}
	want := []string{
		"member_joined_channel", "message/channel_join", "channel_rename/lobby", "message/channel_name",
		"message/channel_leave", "member_left_channel",
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("join and rename events (-want +got):\n%s", diff)
	}
	waitAcked(t, f.srv)
}

func TestSocketModeRedelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	c := f.startSocket(t)
	c.next(t, socketmode.EventTypeHello)

	f.post(t, f.alice.ID, "important")
	first, _ := c.nextEvent(t) // not acknowledged
	f.srv.DropSockets()

	c.next(t, socketmode.EventTypeHello)
	again, inner := c.nextEvent(t)
	if again.EnvelopeID != first.EnvelopeID || again.RetryAttempt != 1 || again.RetryReason != "timeout" {
		t.Errorf("redelivered envelope = %+v, want %s with retry_attempt 1", again, first.EnvelopeID)
	}
	if m := inner.(*slackevents.MessageEvent); m.Text != "important" {
		t.Errorf("redelivered event = %+v", m)
	}
	if err := c.Ack(*again); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, f.srv)
	if got := f.srv.CallCount("apps.connections.open"); got != 2 {
		t.Errorf("apps.connections.open calls = %d, want 2", got)
	}
}

func TestSocketModeDisconnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	c := f.startSocket(t)
	c.next(t, socketmode.EventTypeHello)

	f.srv.SendDisconnect("refresh_requested")
	c.next(t, socketmode.EventTypeHello)
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := f.srv.WaitSockets(ctx, 1); err != nil {
		t.Fatalf("no open socket after the refresh: %v", err)
	}
	f.post(t, f.alice.ID, "after the refresh")
	if m := c.ackNext(t).(*slackevents.MessageEvent); m.Text != "after the refresh" {
		t.Errorf("event after reconnecting = %+v", m)
	}
	waitAcked(t, f.srv)
	if got := f.srv.CallCount("apps.connections.open"); got != 2 {
		t.Errorf("apps.connections.open calls = %d, want 2", got)
	}
}

func TestSocketModePings(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		serverPing time.Duration
		reconnects bool
	}{
		"pinged often enough": {serverPing: 20 * time.Millisecond, reconnects: false},
		"ping too rare":       {serverPing: time.Minute, reconnects: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fakeslack.Options{PingInterval: tc.serverPing})
			c := f.startSocket(t, socketmode.OptionPingInterval(150*time.Millisecond))
			c.next(t, socketmode.EventTypeHello)
			time.Sleep(500 * time.Millisecond)
			if got := f.srv.CallCount("apps.connections.open") > 1; got != tc.reconnects {
				t.Errorf("reconnected = %v, want %v", got, tc.reconnects)
			}
		})
	}
}

func TestSocketModeRevokedAppToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	c := f.startSocket(t)
	c.next(t, socketmode.EventTypeHello)

	f.srv.RevokeToken(f.srv.AppToken())
	timeout := time.After(eventTimeout)
	for {
		select {
		case <-c.Events: // keep the client flowing while it reconnects and gives up
		case err := <-c.done:
			if err == nil || err.Error() != "token_revoked" {
				t.Errorf("RunContext = %v, want token_revoked", err)
			}
			c.done <- err // for the cleanup
			return
		case <-timeout:
			t.Fatal("socketmode kept running with a revoked token")
		}
	}
}

// delivery is an events_api envelope as rawSocketClient received it.
type delivery struct {
	envelopeID string
	attempt    int
	channel    string
	ts         string
}

// rawSocketClient is a Socket Mode client that acknowledges every envelope at once and,
// when its connection fails, reconnects at once with a URL it fetched in advance. It
// reports each envelope on deliveries and runs until the test ends.
func (f *fixture) rawSocketClient(t *testing.T, deliveries chan<- delivery) {
	t.Helper()
	api := slackgo.New(f.srv.BotToken(), slackgo.OptionAPIURL(f.srv.APIURL()), slackgo.OptionAppLevelToken(f.srv.AppToken()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, next, err := api.StartSocketModeContext(ctx)
		for ctx.Err() == nil {
			if err != nil {
				_, next, err = api.StartSocketModeContext(ctx)
				continue
			}
			ws, _, dialErr := websocket.DefaultDialer.DialContext(ctx, next, nil)
			_, next, err = api.StartSocketModeContext(ctx) // ready for the next reconnect
			if dialErr != nil {
				continue
			}
			stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					break
				}
				var env struct {
					Type         string `json:"type"`
					EnvelopeID   string `json:"envelope_id"`
					RetryAttempt int    `json:"retry_attempt"`
					Payload      struct {
						Event struct {
							Channel string `json:"channel"`
							TS      string `json:"ts"`
						} `json:"event"`
					} `json:"payload"`
				}
				if json.Unmarshal(data, &env) != nil || env.Type != "events_api" {
					continue
				}
				deliveries <- delivery{env.EnvelopeID, env.RetryAttempt, env.Payload.Event.Channel, env.Payload.Event.TS}
				if ws.WriteJSON(map[string]string{"envelope_id": env.EnvelopeID}) != nil {
					break
				}
			}
			stop()
			_ = ws.Close()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestSocketModeDropsKeepOrder drops the connections again and again while messages are
// posted in two channels, to a client that reconnects at once: in each channel, the
// first deliveries of the messages come in the order they were posted.
func TestSocketModeDropsKeepOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	random, err := f.srv.AddChannel(fakeslack.ChannelSpec{Name: "random", Members: []string{f.alice.ID}, BotMember: true})
	if err != nil {
		t.Fatal(err)
	}
	const posts = 400
	deliveries := make(chan delivery, 4*posts)
	f.rawSocketClient(t, deliveries)
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := f.srv.WaitSockets(ctx, 1); err != nil {
		t.Fatal(err)
	}

	posted := map[string][]string{}
	for i := range posts {
		channelID := []string{f.general.ID, random.ID}[i%2]
		ts, err := f.srv.Post(f.alice.ID, channelID, fmt.Sprint("message ", i))
		if err != nil {
			t.Fatal(err)
		}
		posted[channelID] = append(posted[channelID], ts)
		if i%3 == 0 {
			f.srv.DropSockets()
		}
	}

	first := map[string][]string{} // channel to the ts of first deliveries, in order
	seen := map[string]bool{}      // by envelope ID
	timeout := time.After(4 * eventTimeout)
	for len(seen) < posts {
		select {
		case d := <-deliveries:
			if !seen[d.envelopeID] {
				seen[d.envelopeID] = true
				first[d.channel] = append(first[d.channel], d.ts)
			}
		case <-timeout:
			t.Fatalf("%d of %d messages delivered", len(seen), posts)
		}
	}
	if diff := cmp.Diff(posted, first); diff != "" {
		t.Errorf("first deliveries by channel, out of order (-posted +delivered):\n%s", diff)
	}
	waitAcked(t, f.srv)
}

func TestSocketModeTokensRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	c := f.startSocket(t)
	c.next(t, socketmode.EventTypeHello)
	aliceToken, err := f.srv.IssueUserToken(f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}

	f.srv.RevokeToken(aliceToken)
	got, ok := c.ackNext(t).(*slackevents.TokensRevokedEvent)
	if !ok || got.Type != "tokens_revoked" || !cmp.Equal(got.Tokens.Oauth, []string{f.alice.ID}) || got.Tokens.Bot != nil {
		t.Errorf("after revoking a user token: %+v, want tokens_revoked naming alice under oauth", got)
	}
	f.srv.RevokeToken(aliceToken) // revoked already: no event
	f.srv.RevokeToken(f.srv.BotToken())
	got, ok = c.ackNext(t).(*slackevents.TokensRevokedEvent)
	if !ok || !cmp.Equal(got.Tokens.Bot, []string{f.srv.BotUserID()}) || got.Tokens.Oauth != nil {
		t.Errorf("after revoking the bot token: %+v, want tokens_revoked naming the bot user under bot", got)
	}
	if _, err := f.bot.AuthTestContext(context.Background()); err == nil || err.Error() != "token_revoked" {
		t.Errorf("auth.test with the revoked bot token: %v, want token_revoked", err)
	}
	waitAcked(t, f.srv)
}

func TestSocketModeUninstall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	c := f.startSocket(t)
	c.next(t, socketmode.EventTypeHello)
	bobToken, err := f.srv.IssueUserToken(f.bob.ID)
	if err != nil {
		t.Fatal(err)
	}

	f.srv.Uninstall()
	revoked, ok := c.ackNext(t).(*slackevents.TokensRevokedEvent)
	if !ok || !cmp.Equal(revoked.Tokens.Bot, []string{f.srv.BotUserID()}) || !cmp.Equal(revoked.Tokens.Oauth, []string{f.bob.ID}) {
		t.Errorf("first event = %+v, want tokens_revoked for the bot and bob", revoked)
	}
	if _, ok := c.ackNext(t).(*slackevents.AppUninstalledEvent); !ok {
		t.Error("no app_uninstalled event")
	}
	waitAcked(t, f.srv)
	for name, token := range map[string]string{"bot": f.srv.BotToken(), "user": bobToken} {
		if _, err := f.client(token).AuthTestContext(context.Background()); err == nil || err.Error() != "token_revoked" {
			t.Errorf("auth.test with the %s token after Uninstall: %v, want token_revoked", name, err)
		}
	}
	// The connection closes once the events are acknowledged, and none can open again.
	timeout := time.After(eventTimeout)
	for {
		select {
		case <-c.Events:
		case err := <-c.done:
			if err == nil || err.Error() != "token_revoked" {
				t.Errorf("RunContext = %v, want token_revoked", err)
			}
			c.done <- err // for the cleanup
			if n := f.srv.SocketCount(); n != 0 {
				t.Errorf("%d sockets open after Uninstall", n)
			}
			return
		case <-timeout:
			t.Fatal("socketmode kept running after Uninstall")
		}
	}
}
