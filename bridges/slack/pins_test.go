package slack_test

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix/event"

	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

func TestPinsAndChannelInfoBothWays(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		bob, roomID := e.joinGeneral(t, "bob")
		ts, err := e.slack.Post(e.alice.ID, e.general.ID, "pin me")
		if err != nil {
			t.Fatal(err)
		}
		msg := waitEvent(t, bob, roomID, "the message", func(ev *event.Event) bool {
			return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "pin me"
		})
		pinned := func() []string {
			var content event.PinnedEventsEventContent
			if err := bob.StateEvent(ctx, roomID, event.StatePinnedEvents, "", &content); err != nil {
				return nil
			}
			var out []string
			for _, id := range content.Pinned {
				out = append(out, id.String())
			}
			return out
		}

		t.Run("pinned in Slack", func(t *testing.T) {
			if err := e.slack.Pin(e.alice.ID, e.general.ID, ts); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "the pin in Matrix", func() bool { return slices.Contains(pinned(), msg.ID.String()) })
		})
		t.Run("unpinned in Matrix", func(t *testing.T) {
			// As in Slack, any member may pin and unpin.
			if _, err := bob.SendStateEvent(ctx, roomID, event.StatePinnedEvents, "", &event.PinnedEventsEventContent{}); err != nil {
				t.Fatal(err)
			}
			waitSlack(t, e.slack, e.general.ID, "the unpin in Slack", func(m fakeslack.Message) bool {
				return m.TS == ts && len(m.PinnedTo) == 0
			})
		})
		t.Run("topic and name from Slack", func(t *testing.T) {
			if err := e.slack.SetTopic(e.alice.ID, e.general.ID, "A new topic"); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "the topic in Matrix", func() bool {
				var topic event.TopicEventContent
				return bob.StateEvent(ctx, roomID, event.StateTopic, "", &topic) == nil && topic.Topic == "A new topic"
			})
			if err := e.slack.Rename(e.alice.ID, e.general.ID, "town-square"); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "the name in Matrix", func() bool {
				var name event.RoomNameEventContent
				return bob.StateEvent(ctx, roomID, event.StateRoomName, "", &name) == nil && name.Name == "#town-square"
			})
		})
		t.Run("topic and name from Matrix", func(t *testing.T) {
			if _, err := bob.SendStateEvent(ctx, roomID, event.StateTopic, "", &event.TopicEventContent{Topic: "Set in Matrix"}); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.SendStateEvent(ctx, roomID, event.StateRoomName, "", &event.RoomNameEventContent{Name: "#Plaza Mayor"}); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "the channel renamed and its topic set", func() bool {
				chans, err := e.slack.Messages(e.general.ID)
				if err != nil {
					return false
				}
				var topic, name bool
				for _, m := range chans {
					topic = topic || (m.Subtype == "channel_topic" && m.Topic == "Set in Matrix")
					name = name || (m.Subtype == "channel_name" && m.Name == "plaza-mayor")
				}
				return topic && name
			})
		})
	})
}
