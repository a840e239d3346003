package slack_test

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

func TestSlackToMatrix(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		roomID := e.portal(t, e.general.ID)
		bob := e.user(t, "bob")
		if _, err := bob.JoinRoomByID(ctx, roomID); err != nil {
			t.Fatalf("bob joins the portal of a public channel: %v", err)
		}
		alice := e.ghost(e.alice.ID)

		// The fake sends what Slack's clients send for typed text: mrkdwn and its rich_text block.
		ts, err := e.slack.Post(e.alice.ID, e.general.ID, "hello *world*")
		if err != nil {
			t.Fatal(err)
		}
		msg := waitEvent(t, bob, roomID, "alice's message", func(ev *event.Event) bool {
			return ev.Sender == alice && ev.Type == event.EventMessage
		})
		content := msg.Content.AsMessage()
		if content.Body != "hello world" || !strings.Contains(content.FormattedBody, "<strong>world</strong>") {
			t.Errorf("message %q / %q", content.Body, content.FormattedBody)
		}
		if want := slackMillis(t, ts); msg.Timestamp != want {
			t.Errorf("origin_server_ts %d, want Slack's %d", msg.Timestamp, want)
		}

		t.Run("edit", func(t *testing.T) {
			if err := e.slack.Edit(e.alice.ID, e.general.ID, ts, "hello everyone"); err != nil {
				t.Fatal(err)
			}
			edit := waitEvent(t, bob, roomID, "the edit", func(ev *event.Event) bool {
				return ev.Sender == alice && ev.Content.AsMessage().RelatesTo.GetReplaceID() == msg.ID
			})
			if got := edit.Content.AsMessage().NewContent.Body; got != "hello everyone" {
				t.Errorf("edited to %q", got)
			}
		})
		t.Run("thread", func(t *testing.T) {
			reply, err := e.slack.Post(e.alice.ID, e.general.ID, "in a thread", fakeslack.InThread(ts))
			if err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, bob, roomID, "the thread reply", func(ev *event.Event) bool {
				return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "in a thread"
			})
			if rel := ev.Content.AsMessage().RelatesTo; rel.GetThreadParent() != msg.ID {
				t.Errorf("reply %s relates %+v, want a thread of %s", reply, rel, msg.ID)
			}
		})
		t.Run("reaction", func(t *testing.T) {
			if err := e.slack.React(e.alice.ID, e.general.ID, ts, "thumbsup"); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, bob, roomID, "the reaction", func(ev *event.Event) bool { return ev.Type == event.EventReaction })
			if rel := ev.Content.AsReaction().RelatesTo; rel.EventID != msg.ID || rel.Key != "👍" || ev.Sender != alice {
				t.Errorf("reaction %+v from %s", rel, ev.Sender)
			}
			if err := e.slack.Unreact(e.alice.ID, e.general.ID, ts, "thumbsup"); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, bob, roomID, "the reaction's redaction", func(r *event.Event) bool {
				return r.Type == event.EventRedaction && r.Redacts == ev.ID
			})
		})
		t.Run("delete", func(t *testing.T) {
			if err := e.slack.Delete(e.alice.ID, e.general.ID, ts); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, bob, roomID, "the redaction", func(ev *event.Event) bool {
				return ev.Type == event.EventRedaction && ev.Redacts == msg.ID
			})
		})
	})
}

func TestMatrixToSlack(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		bob, roomID := e.joinGeneral(t, "bob")
		sent, err := bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{
			MsgType: event.MsgText, Body: "hi from matrix", Format: event.FormatHTML, FormattedBody: "hi from <strong>matrix</strong>",
		})
		if err != nil {
			t.Fatal(err)
		}
		m := waitSlack(t, e.slack, e.general.ID, "bob's message in Slack", func(m fakeslack.Message) bool {
			return strings.Contains(m.Text, "matrix")
		})
		if m.Text != "hi from *matrix*" || m.Username != "bob" || m.BotID != e.slack.BotID() {
			t.Errorf("relayed as %q by %q (bot %q)", m.Text, m.Username, m.BotID)
		}

		t.Run("edit", func(t *testing.T) {
			_, err := bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{
				MsgType: event.MsgText, Body: "* hi again", NewContent: &event.MessageEventContent{MsgType: event.MsgText, Body: "hi again"},
				RelatesTo: (&event.RelatesTo{}).SetReplace(sent.EventID),
			})
			if err != nil {
				t.Fatal(err)
			}
			waitSlack(t, e.slack, e.general.ID, "the edit", func(got fakeslack.Message) bool { return got.TS == m.TS && got.Text == "hi again" })
		})
		t.Run("reaction", func(t *testing.T) {
			resp, err := bob.SendReaction(ctx, roomID, sent.EventID, "🎉")
			if err != nil {
				t.Fatal(err)
			}
			waitSlack(t, e.slack, e.general.ID, "the reaction", func(got fakeslack.Message) bool {
				return got.TS == m.TS && len(got.Reactions) == 1 && got.Reactions[0].Name == "tada"
			})
			if _, err := bob.RedactEvent(ctx, roomID, resp.EventID); err != nil {
				t.Fatal(err)
			}
			waitSlack(t, e.slack, e.general.ID, "the reaction removed", func(got fakeslack.Message) bool {
				return got.TS == m.TS && len(got.Reactions) == 0
			})
		})
		t.Run("reply goes to the thread", func(t *testing.T) {
			_, err := bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{
				MsgType: event.MsgText, Body: "a reply", RelatesTo: (&event.RelatesTo{}).SetReplyTo(sent.EventID),
			})
			if err != nil {
				t.Fatal(err)
			}
			waitSlack(t, e.slack, e.general.ID, "the reply in the thread", func(got fakeslack.Message) bool {
				return got.Text == "a reply" && got.ThreadTS == m.TS
			})
		})
		t.Run("delete", func(t *testing.T) {
			if _, err := bob.RedactEvent(ctx, roomID, sent.EventID); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "the deletion in Slack", func() bool {
				// The thread's root stays as a tombstone, which keeps its replies.
				got, err := e.slack.Message(e.general.ID, m.TS)
				return err != nil || got.Subtype == "tombstone"
			})
		})
		// Nothing bob sent came back to Matrix as a ghost's message.
		for _, ev := range roomEvents(t, bob, roomID) {
			if ev.Type == event.EventMessage && ev.Sender != bob.UserID && ev.Sender != id.UserID("@slackbot:localhost") {
				t.Errorf("echo: %s sent %q", ev.Sender, ev.Content.AsMessage().Body)
			}
		}
	})
}

// slackMillis turns a Slack ts into Unix milliseconds.
func slackMillis(t *testing.T, ts string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(ts, ".")
	var s, us int64
	for _, c := range sec {
		s = s*10 + int64(c-'0')
	}
	for _, c := range (frac + "000000")[:6] {
		us = us*10 + int64(c-'0')
	}
	return s*1000 + us/1000
}
