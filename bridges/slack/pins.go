package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/slack-go/slack/slackevents"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
)

// pinnedMessageTS returns the ts of the message a pin event is about, "" for other items.
func pinnedMessageTS(item slackevents.Item) string {
	if item.Message != nil {
		return item.Message.Timestamp
	}
	return item.Timestamp
}

// onPin adds (or removes) a Slack-pinned message to the portal's m.room.pinned_events.
func (w *workspace) onPin(ctx context.Context, channelID, userID string, item slackevents.Item, pinned bool) error {
	ts := pinnedMessageTS(item)
	if !w.bridges(channelID) || userID == w.ident.BotUserID || ts == "" {
		return nil
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	parts, err := w.b.store.Message(ctx, w.key, channelID, ts)
	if err != nil || len(parts) == 0 {
		return err
	}
	return w.setPinned(ctx, parts[0].RoomID, parts[0].EventID, pinned)
}

// setPinned adds or removes one event of a room's pinned events, as the bridge bot.
func (w *workspace) setPinned(ctx context.Context, roomID id.RoomID, eventID id.EventID, pinned bool) error {
	bot := w.b.as.BotIntent()
	var content event.PinnedEventsEventContent
	if err := bot.StateEvent(ctx, roomID, event.StatePinnedEvents, "", &content); err != nil && !isNotFound(err) {
		return fmt.Errorf("pinned events of %s: %w", roomID, err)
	}
	has := slices.Contains(content.Pinned, eventID)
	switch {
	case pinned && !has:
		content.Pinned = append(content.Pinned, eventID)
	case !pinned && has:
		content.Pinned = slices.DeleteFunc(content.Pinned, func(e id.EventID) bool { return e == eventID })
	default:
		return nil
	}
	_, err := bot.SendStateEvent(ctx, roomID, event.StatePinnedEvents, "", &content)
	return err
}

// pinsToSlack pins and unpins in Slack what a Matrix user pinned and unpinned in a portal:
// the difference between the new m.room.pinned_events and the one it replaced.
func (w *workspace) pinsToSlack(ctx context.Context, portal bridge.Portal, evt *event.Event) error {
	now := evt.Content.AsPinnedEvents().Pinned
	var before []id.EventID
	if evt.Unsigned.PrevContent != nil {
		if err := evt.Unsigned.PrevContent.ParseRaw(event.StatePinnedEvents); err == nil {
			before = evt.Unsigned.PrevContent.AsPinnedEvents().Pinned
		}
	}
	unlock := w.lockChannel(portal.ChannelID)
	defer unlock()
	for _, eventID := range now {
		if !slices.Contains(before, eventID) {
			if err := w.pinInSlack(ctx, portal, eventID, "pins.add", "already_pinned"); err != nil {
				return err
			}
		}
	}
	for _, eventID := range before {
		if !slices.Contains(now, eventID) {
			if err := w.pinInSlack(ctx, portal, eventID, "pins.remove", "no_pin"); err != nil {
				return err
			}
		}
	}
	return nil
}

// pinInSlack pins (pins.add) or unpins (pins.remove) the Slack message of an event, if it has one.
func (w *workspace) pinInSlack(ctx context.Context, portal bridge.Portal, eventID id.EventID, method, harmless string) error {
	m, err := w.b.store.MessageByEvent(ctx, eventID)
	if bridge.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if err := w.pin(ctx, portal.ChannelID, m.RemoteID, method == "pins.add"); err != nil && !isSlackError(err, harmless) {
		return err
	}
	return nil
}

// infoToSlack renames a channel or sets its topic when a Matrix user changed the portal's.
// Slack refuses what the bot may not do (renaming #general, say); that is logged, not retried.
func (w *workspace) infoToSlack(ctx context.Context, portal bridge.Portal, evt *event.Event) error {
	if portal.Kind == bridge.KindDM || portal.Kind == bridge.KindGroupDM {
		return nil
	}
	unlock := w.lockChannel(portal.ChannelID)
	defer unlock()
	switch evt.Type {
	case event.StateRoomName:
		name := slackChannelName(evt.Content.AsRoomName().Name)
		if name == "" || name == portal.Name {
			return nil
		}
		err := w.call(ctx, "conversations.rename", func(ctx context.Context) error {
			_, err := w.bot().RenameConversationContext(ctx, portal.ChannelID, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("conversations.rename: %w", err)
		}
		portal.Name = name
	case event.StateTopic:
		topic := evt.Content.AsTopic().Topic
		if topic == portal.Topic {
			return nil
		}
		if err := w.setTopic(ctx, portal.ChannelID, topic); err != nil {
			return err
		}
		portal.Topic = topic
	}
	return w.b.store.UpdatePortalInfo(ctx, portal)
}

// slackChannelName makes a Matrix room name into a Slack channel name: lower case, without a
// leading #, spaces as dashes, only letters, digits, - and _, at most 80 characters.
func slackChannelName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "#")) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		}
	}
	out := []rune(b.String())
	return string(out[:min(len(out), 80)])
}

// isNotFound reports whether the homeserver answered M_NOT_FOUND.
func isNotFound(err error) bool { return hasErrCode(err, mautrix.MNotFound.ErrCode) }

// isForbidden reports whether the homeserver answered M_FORBIDDEN.
func isForbidden(err error) bool { return hasErrCode(err, mautrix.MForbidden.ErrCode) }

func hasErrCode(err error, code string) bool {
	var re mautrix.RespError
	return errors.As(err, &re) && re.ErrCode == code
}
