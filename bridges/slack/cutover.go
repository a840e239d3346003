package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
)

// The cutover of a channel to Matrix, for migration/cutover: the bridge carries out in Slack
// and in the portal what each step of a channel's migration means, and records which way the
// portal still relays. The migration state itself is migration/cutover's.

// connected returns the live workspace of a team and the portal of one of its channels.
func (b *Bridge) connected(ctx context.Context, teamID, channelID string) (*workspace, bridge.Portal, error) {
	w := b.workspaceByTeam(teamID)
	if w == nil {
		return nil, bridge.Portal{}, fmt.Errorf("the Slack workspace %s is not connected: configure it and let it connect first", teamID)
	}
	p, err := b.store.Portal(ctx, w.key, channelID)
	if err != nil {
		return nil, bridge.Portal{}, err
	}
	return w, p, nil
}

// StartBridging makes the live bridge carry a channel both ways: the bot joins it (a public
// channel; a private one needs an invitation in Slack), the portal relays both ways, and what
// was said since its newest bridged or imported message is caught up.
func (b *Bridge) StartBridging(ctx context.Context, teamID, channelID string) error {
	w, p, err := b.connected(ctx, teamID, channelID)
	if err != nil {
		return err
	}
	ch, err := w.src.Conversation(ctx, channelID)
	if err != nil {
		return fmt.Errorf("conversations.info: %w", err)
	}
	if !ch.IsMember && !isDMKind(p.Kind) {
		if ch.IsPrivate {
			return fmt.Errorf("invite the bot to #%s in Slack first", ch.Name)
		}
		err := w.call(ctx, "conversations.join", func(ctx context.Context) error {
			_, _, _, err := w.bot().JoinConversationContext(ctx, channelID)
			return err
		})
		if err != nil {
			return fmt.Errorf("conversations.join: %w", err)
		}
	}
	if err := b.store.SetPortalRelay(ctx, w.key, channelID, bridge.RelayBoth); err != nil {
		return err
	}
	return w.catchUp(ctx, channelID, false)
}

// MoveToMatrix makes the portal the channel's home. In Slack a notice with the room's link is
// posted and pinned (unless noticeTS names the one an earlier, interrupted attempt posted), and
// as configured the topic points to it and the channel is archived; from then on only
// stragglers written in Slack are relayed into Matrix, or nothing. It returns the notice's ts,
// which MoveBackToSlack unpins, also when a later step failed.
func (b *Bridge) MoveToMatrix(ctx context.Context, teamID, channelID, noticeTS string) (string, error) {
	w, p, err := b.connected(ctx, teamID, channelID)
	if err != nil {
		return noticeTS, err
	}
	cfg := b.cfg.Cutover
	link := p.RoomID.URI(b.serverName).MatrixToURL()
	ts := noticeTS
	if ts == "" {
		text := fmt.Sprintf(":arrow_right: This conversation has moved to Matrix: <%s|%s>.", link, portalLabel(p))
		if cfg.Message != "" {
			text += " " + cfg.Message
		}
		err = w.call(ctx, "chat.postMessage", func(ctx context.Context) (err error) {
			_, ts, err = w.bot().PostMessageContext(ctx, channelID, slackapi.MsgOptionText(text, false))
			return err
		})
		if err != nil {
			return "", fmt.Errorf("post the notice: %w", err)
		}
	}
	if err := w.pin(ctx, channelID, ts, true); err != nil && !isSlackError(err, "already_pinned") {
		return ts, err
	}
	if cfg.SetTopic {
		if err := w.setTopic(ctx, channelID, "Moved to Matrix: "+link); err != nil {
			return ts, err
		}
	}
	relay := bridge.RelayNone
	if cfg.RelayStragglers {
		relay = bridge.RelayToMatrix
	}
	if err := b.store.SetPortalRelay(ctx, w.key, channelID, relay); err != nil {
		return ts, err
	}
	if cfg.Archive {
		if err := w.archive(ctx, channelID); err != nil {
			return ts, err
		}
	}
	w.notice(ctx, p.RoomID, "This room is now the home of "+portalLabel(p)+": the Slack channel points here, and messages from Matrix no longer go to Slack.")
	return ts, nil
}

// MoveBackToSlack undoes MoveToMatrix: the notice is unpinned, the portal relays both ways
// again, and both sides are told. The bot cannot unarchive a channel: an archived one is
// refused, with nothing changed, until someone unarchives it in Slack.
func (b *Bridge) MoveBackToSlack(ctx context.Context, teamID, channelID, noticeTS string) error {
	w, p, err := b.connected(ctx, teamID, channelID)
	if err != nil {
		return err
	}
	ch, err := w.src.Conversation(ctx, channelID)
	if err != nil {
		return fmt.Errorf("conversations.info: %w", err)
	}
	if ch.IsArchived {
		return fmt.Errorf("#%s is archived in Slack, which the bot cannot undo: unarchive it in Slack, then roll back", ch.Name)
	}
	if err := b.store.SetPortalRelay(ctx, w.key, channelID, bridge.RelayBoth); err != nil {
		return err
	}
	w.notice(ctx, p.RoomID, "The move to Matrix was undone: messages cross between this room and Slack both ways again.")
	if noticeTS != "" {
		if err := w.pin(ctx, channelID, noticeTS, false); err != nil && !isSlackError(err, "no_pin") {
			return err
		}
	}
	return w.post(ctx, channelID, ":arrow_left: The move to Matrix was undone: this channel is bridged both ways again.")
}

// Retire ends the bridging of a conversation that moved: the Slack channel is archived and
// nothing is relayed any more. The portal stays, as the conversation's room.
func (b *Bridge) Retire(ctx context.Context, teamID, channelID string) error {
	w, p, err := b.connected(ctx, teamID, channelID)
	if err != nil {
		return err
	}
	if err := b.store.SetPortalRelay(ctx, w.key, channelID, bridge.RelayNone); err != nil {
		return err
	}
	if err := w.archive(ctx, channelID); err != nil {
		return err
	}
	w.notice(ctx, p.RoomID, "The Slack channel is archived: this room is all there is of "+portalLabel(p)+" now.")
	return nil
}

// Unretire undoes Retire as far as the bot can: stragglers are relayed again as configured.
// The channel stays archived in Slack.
func (b *Bridge) Unretire(ctx context.Context, teamID, channelID string) error {
	w, _, err := b.connected(ctx, teamID, channelID)
	if err != nil {
		return err
	}
	relay := bridge.RelayNone
	if b.cfg.Cutover.RelayStragglers {
		relay = bridge.RelayToMatrix
	}
	return b.store.SetPortalRelay(ctx, w.key, channelID, relay)
}

// PortalPeople counts the members of a portal: the people on Matrix (accounts of this server
// or others that are neither ghosts nor the bot), and the ghosts of Slack users.
func (b *Bridge) PortalPeople(ctx context.Context, roomID id.RoomID) (people, ghosts int, err error) {
	members, err := b.as.BotIntent().JoinedMembers(ctx, roomID)
	if err != nil {
		return 0, 0, err
	}
	for userID := range members.Joined {
		switch {
		case userID == b.as.BotMXID():
		case b.ghostIDs.MatchString(string(userID)):
			ghosts++
		default:
			people++
		}
	}
	return people, ghosts, nil
}

// portalLabel names a portal's conversation for people: #name, or "this conversation".
func portalLabel(p bridge.Portal) string {
	if p.Name == "" || isDMKind(p.Kind) {
		return "this conversation"
	}
	return "#" + p.Name
}

// pin pins or unpins a message with the bot token.
func (w *workspace) pin(ctx context.Context, channelID, ts string, add bool) error {
	ref := slackapi.NewRefToMessage(channelID, ts)
	method := map[bool]string{true: "pins.add", false: "pins.remove"}[add]
	err := w.call(ctx, method, func(ctx context.Context) error {
		if add {
			return w.bot().AddPinContext(ctx, channelID, ref)
		}
		return w.bot().RemovePinContext(ctx, channelID, ref)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// setTopic sets a channel's topic with the bot token.
func (w *workspace) setTopic(ctx context.Context, channelID, topic string) error {
	err := w.call(ctx, "conversations.setTopic", func(ctx context.Context) error {
		_, err := w.bot().SetTopicOfConversationContext(ctx, channelID, topic)
		return err
	})
	if err != nil {
		return fmt.Errorf("conversations.setTopic: %w", err)
	}
	return nil
}

// archive archives a channel with the bot token; one archived already is left as it is.
func (w *workspace) archive(ctx context.Context, channelID string) error {
	err := w.call(ctx, "conversations.archive", func(ctx context.Context) error {
		return w.bot().ArchiveConversationContext(ctx, channelID)
	})
	if err != nil && !isSlackError(err, "already_archived") {
		return fmt.Errorf("conversations.archive: %w", err)
	}
	return nil
}

// post posts a message as the bot.
func (w *workspace) post(ctx context.Context, channelID, text string) error {
	err := w.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, _, err := w.bot().PostMessageContext(ctx, channelID, slackapi.MsgOptionText(text, false))
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.postMessage: %w", err)
	}
	return nil
}

// notice posts a notice from the bot in a room; a failure is logged, not returned.
func (w *workspace) notice(ctx context.Context, roomID id.RoomID, text string) {
	_, err := w.b.as.BotIntent().SendMessageEvent(ctx, roomID, event.EventMessage, marked(&event.MessageEventContent{MsgType: event.MsgNotice, Body: text}))
	if err != nil {
		w.log.WarnContext(ctx, "cannot post a notice in a portal", "room_id", roomID, "error", err)
	}
}
