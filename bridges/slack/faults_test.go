package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

// bodiesFrom returns the bodies of the messages sender sent in the room, oldest first.
func bodiesFrom(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID) []string {
	t.Helper()
	var out []string
	for _, ev := range roomEvents(t, cli, roomID) {
		if ev.Type == event.EventMessage && ev.Sender == sender {
			out = append(out, ev.Content.AsMessage().Body)
		}
	}
	return out
}

// wantBodies waits until the sender's messages are exactly want, in order.
func wantBodies(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got = bodiesFrom(t, cli, roomID, sender)
		if len(got) >= len(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d messages %v, want %d in order", len(got), got, len(want))
	}
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// TestRestartLeavesNoGap stops Causeway while Slack users keep talking: after the restart
// every message is in the portal once, in order.
func TestRestartLeavesNoGap(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, driver, dsn)
		bob, roomID := e.joinGeneral(t, "bob")
		want := numbered("message", 0, 30)
		for _, text := range want[:10] {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
		}
		wantBodies(t, bob, roomID, e.ghost(e.alice.ID), want[:10])

		e.down(t)
		for _, text := range want[10:20] {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
		}
		// Slack gives up on what it could not deliver: only the history has it now.
		if n := e.slack.DiscardUndelivered(); n < 10 {
			t.Fatalf("%d undelivered events discarded, want the 10 posts at least", n)
		}
		e.startServer(t, dsn)
		for _, text := range want[20:] {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
		}
		bob.HomeserverURL = mustParseURL(t, e.hsURL)
		wantBodies(t, bob, roomID, e.ghost(e.alice.ID), want)
	})
}

// TestRestartCatchesUpThreads: replies written while Causeway was down and never delivered are
// caught up in the threads whose roots are older than the channel's newest message: a thread
// with replies bridged, a thread that had none yet, and a thread whose root is a month old but
// which had a reply lately.
func TestRestartCatchesUpThreads(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		now := time.Now()
		e := startEnvWith(t, dsn, &env{}, fakeslack.Options{PingInterval: time.Second, Now: now.Add(-30 * 24 * time.Hour)})
		bob, roomID := e.joinGeneral(t, "bob")
		post := func(text string, opts ...fakeslack.PostOption) string {
			t.Helper()
			ts, err := e.slack.Post(e.alice.ID, e.general.ID, text, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}
		old := post("an old question")
		e.slack.SetTime(now.Add(-24 * time.Hour))
		post("a recent answer", fakeslack.InThread(old))
		e.slack.SetTime(now.Add(-time.Hour))
		root := post("a question")
		post("a first answer", fakeslack.InThread(root))
		unanswered := post("an unanswered question")
		post("meanwhile, in the channel")
		wantBodies(t, bob, roomID, e.ghost(e.alice.ID), []string{"an old question", "a recent answer", "a question",
			"a first answer", "an unanswered question", "meanwhile, in the channel"})

		e.down(t)
		e.slack.SetTime(now)
		late := map[string]string{"a late answer": root, "a first answer, late": unanswered, "a late answer to an old question": old}
		for text, thread := range late {
			post(text, fakeslack.InThread(thread))
		}
		e.slack.DiscardUndelivered()
		e.startServer(t, dsn)
		bob.HomeserverURL = mustParseURL(t, e.hsURL)
		for text := range late {
			waitEvent(t, bob, roomID, text+" in its thread", func(ev *event.Event) bool {
				return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == text &&
					ev.Content.AsMessage().RelatesTo.GetThreadParent() != ""
			})
		}
	})
}

// TestDisconnectsLoseNothing drops the Socket Mode connection 100 times while a Slack user
// posts 300 messages: each arrives once, in order.
func TestDisconnectsLoseNothing(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, driver, dsn)
		bob, roomID := e.joinGeneral(t, "bob")
		want := numbered("stream", 0, 300)
		for i, text := range want {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				e.slack.DropSockets()
			}
		}
		wantBodies(t, bob, roomID, e.ghost(e.alice.ID), want)
	})
}

// TestRateLimitedPostsArriveInOrder makes Slack refuse chat.postMessage for a while: Matrix
// messages still reach the channel, later and in order.
func TestRateLimitedPostsArriveInOrder(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		bob, roomID := e.joinGeneral(t, "bob")
		e.slack.RateLimit("chat.postMessage", 3, time.Second)
		want := numbered("limited", 0, 5)
		for _, text := range want {
			if _, err := bob.SendText(ctx, roomID, text); err != nil {
				t.Fatal(err)
			}
		}
		slackstack.WaitFor(t, "all five in Slack", func() bool {
			msgs, _ := e.slack.Messages(e.general.ID)
			return len(msgs) >= 5
		})
		msgs, _ := e.slack.Messages(e.general.ID)
		var got []string
		for _, m := range msgs {
			got = append(got, m.Text)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Slack got %v, want %v", got, want)
		}
	})
}

// TestRevokedTokenShowsInStatus revokes the bot token: the workspace's status says so within
// seconds, naming Slack's error.
func TestRevokedTokenShowsInStatus(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, driver, dsn)
		e.portal(t, e.general.ID)
		e.slack.RevokeToken(e.slack.BotToken())
		if _, err := e.slack.Post(e.alice.ID, e.general.ID, "after the revocation"); err != nil {
			t.Fatal(err)
		}
		slackstack.WaitFor(t, "the revoked token in the status", func() bool {
			s := e.bridge.Statuses(context.Background())[0]
			return s.AuthFailed && s.Error != ""
		})
		if s := e.bridge.Statuses(context.Background())[0]; s.Connected {
			t.Errorf("status says connected after the token was revoked: %+v", s)
		}
		// The admin API shows it, naming the workspace and Slack's error.
		root := e.admin(t)
		var status struct {
			Workspaces []struct {
				Name       string `json:"name"`
				Error      string `json:"error"`
				AuthFailed bool   `json:"auth_failed"`
				Connected  bool   `json:"connected"`
				Channels   []struct {
					ID            string `json:"id"`
					LastMessageTS int64  `json:"last_message_ts"`
				} `json:"channels"`
			} `json:"workspaces"`
		}
		if _, err := root.MakeRequest(context.Background(), http.MethodGet, e.hsURL+"/_causeway/admin/v1/bridges/slack", nil, &status); err != nil {
			t.Fatal(err)
		}
		// And the workspace's space gets a notice for its people.
		space, err := e.store.Space(context.Background(), bridge.Key{Network: "slack", Workspace: e.slack.TeamID()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.JoinRoomByID(context.Background(), space); err != nil {
			t.Fatal(err)
		}
		// Slack says it with an error to the next call (token_revoked) or with an event
		// (tokens_revoked), whichever comes first.
		waitEvent(t, root, space, "the notice in the space", func(ev *event.Event) bool {
			return ev.Type == event.EventMessage && strings.Contains(ev.Content.AsMessage().Body, "revoked")
		})
		if ch := status.Workspaces[0].Channels; len(ch) != 1 || ch[0].ID != e.general.ID {
			t.Errorf("channels in the status: %+v", ch)
		}
		if len(status.Workspaces) != 1 || status.Workspaces[0].Name != "test" || !status.Workspaces[0].AuthFailed || status.Workspaces[0].Connected ||
			!strings.Contains(status.Workspaces[0].Error, "revoked") {
			t.Errorf("admin status %+v", status)
		}
	})
}

// TestBadWorkspaceFailsAlone configures a second workspace whose tokens Slack refuses: it
// stops with a clear status while the first one bridges on.
func TestBadWorkspaceFailsAlone(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		other := fakeslack.New(fakeslack.Options{TeamID: "T0OTHER01"})
		t.Cleanup(other.Close)
		e := startEnv(t, driver, dsn, slackbridge.WorkspaceConfig{
			Name: "broken", AppToken: "xapp-1-not-valid", BotToken: "xoxb-1-not-valid",
			APIURL: other.APIURL(), Channels: slackbridge.ChannelList{"all"}, Relay: true,
		})
		roomID := e.portal(t, e.general.ID)
		slackstack.WaitFor(t, "the broken workspace's status", func() bool {
			s := e.bridge.Statuses(ctx)[1]
			return s.Name == "broken" && s.AuthFailed && strings.Contains(s.Error, "invalid_auth")
		})
		bob := e.user(t, "bob")
		if _, err := bob.JoinRoomByID(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.slack.Post(e.alice.ID, e.general.ID, "still here"); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, bob, roomID, "a message of the working workspace", func(ev *event.Event) bool {
			return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "still here"
		})
		if s := e.bridge.Statuses(ctx)[0]; !s.Connected || s.AuthFailed {
			t.Errorf("the good workspace: %+v", s)
		}
	})
}
