package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackconn"
	"causeway/bridges/slack/slackfmt"
)

// handleMatrixEvent is Matrix -> Slack: one event of a portal, from a Matrix user.
func (w *workspace) handleMatrixEvent(ctx context.Context, portal bridge.Portal, evt *event.Event) error {
	if evt.Content.Parsed == nil {
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			return err
		}
	}
	switch evt.Type {
	case event.EventMessage:
		return w.messageToSlack(ctx, portal, evt)
	case event.EventReaction:
		return w.reactionToSlack(ctx, portal, evt)
	case event.EventRedaction:
		return w.redactionToSlack(ctx, portal, evt)
	case event.StatePinnedEvents:
		return w.pinsToSlack(ctx, portal, evt)
	case event.StateRoomName, event.StateTopic:
		return w.infoToSlack(ctx, portal, evt)
	}
	return nil
}

// poster is who a Matrix user's message is posted as in Slack: themselves, when they logged in
// with their own token (double puppeting), or the bot with their name (relay).
type poster struct {
	api      *slackconn.API
	remoteID string // the Slack user who posts
	name     string // the Matrix user's name, for relayed posts
	iconURL  string // the public URL of the Matrix user's avatar, for relayed posts; may be ""
	relayed  bool
}

// posterOf returns who posts for a Matrix user, or false when the user has no login and the
// workspace does not relay.
func (w *workspace) posterOf(ctx context.Context, portal bridge.Portal, userID id.UserID) (poster, bool, error) {
	login, err := w.b.store.LoginOf(ctx, w.key, userID)
	if err == nil {
		return poster{api: w.conn.UserAPI(login.Token), remoteID: login.RemoteID}, true, nil
	} else if !bridge.IsNotFound(err) {
		return poster{}, false, err
	}
	if !w.cfg.Relay || isDMKind(portal.Kind) {
		return poster{}, false, nil // the bot is in no DM: only their owners post there
	}
	p := poster{api: w.conn.API(), remoteID: w.ident.BotUserID, name: userID.Localpart(), relayed: true}
	if member := w.b.as.BotIntent().Member(ctx, portal.RoomID, userID); member != nil {
		if member.Displayname != "" {
			p.name = member.Displayname
		}
		p.iconURL = w.b.avatarURL(ctx, member.AvatarURL)
	}
	return p, true, nil
}

// messageToSlack posts a Matrix message (or applies an edit) in the portal's channel.
func (w *workspace) messageToSlack(ctx context.Context, portal bridge.Portal, evt *event.Event) error {
	content := evt.Content.AsMessage()
	if content.RelatesTo.GetReplaceID() != "" {
		return w.editToSlack(ctx, portal, evt, content)
	}
	p, ok, err := w.posterOf(ctx, portal, evt.Sender)
	if err != nil || !ok {
		return err
	}
	threadTS, err := w.slackThreadOf(ctx, content.RelatesTo)
	if err != nil {
		return err
	}
	unlock := w.lockChannel(portal.ChannelID)
	defer unlock()
	var ts string
	switch content.MsgType {
	case event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio:
		ts, err = w.uploadToSlack(ctx, portal, p, content, threadTS)
	default:
		ts, err = w.postToSlack(ctx, portal, p, content, threadTS)
	}
	if err != nil {
		return err
	}
	_, err = w.b.store.PutMessage(ctx, bridge.Message{
		Key: w.key, ChannelID: portal.ChannelID, RemoteID: ts, SortKey: slackMicros(ts), ThreadID: threadTS,
		RoomID: portal.RoomID, EventID: evt.ID, Sender: evt.Sender, CreatedTS: time.Now().UnixMilli(),
	})
	return err
}

// postToSlack posts a text, notice or emote and returns its ts.
func (w *workspace) postToSlack(ctx context.Context, portal bridge.Portal, p poster, content *event.MessageEventContent, threadTS string) (string, error) {
	text := slackfmt.ToSlack(content, resolver{w: w}, slackfmt.SlackOptions{AllowRoomMention: !p.relayed})
	method := "chat.postMessage"
	if content.MsgType == event.MsgEmote {
		if !p.relayed && threadTS == "" {
			method = "chat.meMessage"
		} else {
			text = slackfmt.EmoteItalic(p.name, text)
		}
	}
	var ts string
	err := p.api.Do(ctx, method, func(ctx context.Context) (err error) {
		if method == "chat.meMessage" {
			_, ts, _, err = p.api.Client().SendMessageContext(ctx, portal.ChannelID, slackapi.MsgOptionMeMessage(), slackapi.MsgOptionText(text, false))
			return err
		}
		_, ts, err = p.api.Client().PostMessageContext(ctx, portal.ChannelID, postOptions(p, text, threadTS)...)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", method, err)
	}
	return ts, nil
}

// postOptions are the chat.postMessage options of a post.
func postOptions(p poster, text, threadTS string) []slackapi.MsgOption {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	if p.relayed {
		opts = append(opts, slackapi.MsgOptionUsername(p.name))
		if p.iconURL != "" {
			opts = append(opts, slackapi.MsgOptionIconURL(p.iconURL))
		}
	}
	if threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	return opts
}

// uploadToSlack shares a Matrix file in the channel (files.getUploadURLExternal and
// files.completeUploadExternal) and returns the ts of the message that shares it.
func (w *workspace) uploadToSlack(ctx context.Context, portal bridge.Portal, p poster, content *event.MessageEventContent, threadTS string) (string, error) {
	uri, err := content.URL.Parse()
	if err != nil {
		return "", fmt.Errorf("file without a URL: %w", err)
	}
	data, err := w.b.as.BotIntent().DownloadBytes(ctx, uri)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", uri, err)
	}
	name := content.FileName
	if name == "" {
		name = content.Body
	}
	params := slackapi.UploadFileParameters{
		Reader: bytes.NewReader(data), FileSize: len(data), Filename: name, Channel: portal.ChannelID, ThreadTimestamp: threadTS,
	}
	if p.relayed {
		params.InitialComment = p.name + " sent a file"
	}
	var file *slackapi.FileSummary
	err = p.api.Do(ctx, "files.completeUploadExternal", func(ctx context.Context) (err error) {
		file, err = p.api.Client().UploadFileContext(ctx, params)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", name, err)
	}
	return w.shareTS(ctx, p, file.ID, portal.ChannelID, threadTS)
}

// shareTS finds the ts of the message that shared a file in a channel: from files.info's
// shares, which Slack fills in a moment after the upload completes, or else from the newest
// messages of the channel (or thread) that carry the file.
func (w *workspace) shareTS(ctx context.Context, p poster, fileID, channelID, threadTS string) (string, error) {
	for attempt := range shareAttempts {
		if ts, err := w.shareFromInfo(ctx, p, fileID, channelID); err != nil || ts != "" {
			return ts, err
		}
		if ts, err := w.shareFromHistory(ctx, fileID, channelID, threadTS); err != nil || ts != "" {
			return ts, err
		}
		if attempt < shareAttempts-1 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(shareRetry):
			}
		}
	}
	return "", fmt.Errorf("file %s is not shared in %s", fileID, channelID)
}

const (
	shareAttempts = 5
	shareRetry    = 200 * time.Millisecond
)

func (w *workspace) shareFromInfo(ctx context.Context, p poster, fileID, channelID string) (string, error) {
	var f *slackapi.File
	err := p.api.Do(ctx, "files.info", func(ctx context.Context) (err error) {
		f, _, _, err = p.api.Client().GetFileInfoContext(ctx, fileID, 0, 0)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("files.info: %w", err)
	}
	for _, shares := range []map[string][]slackapi.ShareFileInfo{f.Shares.Public, f.Shares.Private} {
		if s := shares[channelID]; len(s) > 0 {
			return s[0].Ts, nil
		}
	}
	return "", nil
}

// shareFromHistory looks for the file among the channel's (or thread's) newest messages.
func (w *workspace) shareFromHistory(ctx context.Context, fileID, channelID, threadTS string) (string, error) {
	var msgs []slackapi.Message
	err := w.call(ctx, "conversations.history", func(ctx context.Context) error {
		if threadTS != "" {
			replies, _, _, err := w.bot().GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{ChannelID: channelID, Timestamp: threadTS, Limit: 100})
			msgs = replies
			return err
		}
		resp, err := w.bot().GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: channelID, Limit: 20})
		if err == nil {
			msgs = resp.Messages
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("find the file's message: %w", err)
	}
	for _, m := range msgs {
		for _, f := range m.Files {
			if f.ID == fileID {
				return m.Timestamp, nil
			}
		}
	}
	return "", nil
}

// slackThreadOf returns the Slack thread a Matrix message belongs in: its m.thread root's, or
// for a reply, the thread of the message replied to (which starts one if it had none).
func (w *workspace) slackThreadOf(ctx context.Context, rel *event.RelatesTo) (string, error) {
	target := rel.GetThreadParent()
	if target == "" {
		target = rel.GetReplyTo()
	}
	if target == "" {
		return "", nil
	}
	m, err := w.b.store.MessageByEvent(ctx, target)
	if bridge.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if m.ThreadID != "" {
		return m.ThreadID, nil
	}
	return m.RemoteID, nil
}

// editToSlack applies an m.replace to the Slack message it edits, when the sender posted it.
func (w *workspace) editToSlack(ctx context.Context, portal bridge.Portal, evt *event.Event, content *event.MessageEventContent) error {
	target, err := w.b.store.MessageByEvent(ctx, content.RelatesTo.GetReplaceID())
	if bridge.IsNotFound(err) || (err == nil && target.Sender != evt.Sender) {
		return nil
	} else if err != nil {
		return err
	}
	p, ok, err := w.posterOf(ctx, portal, evt.Sender)
	if err != nil || !ok {
		return err
	}
	newContent := content.NewContent
	if newContent == nil {
		newContent = content
	}
	text := slackfmt.ToSlack(newContent, resolver{w: w}, slackfmt.SlackOptions{AllowRoomMention: !p.relayed})
	unlock := w.lockChannel(portal.ChannelID)
	defer unlock()
	return p.api.Do(ctx, "chat.update", func(ctx context.Context) error {
		_, _, _, err := p.api.Client().UpdateMessageContext(ctx, portal.ChannelID, target.RemoteID, slackapi.MsgOptionText(text, false))
		return err
	})
}

// reactionToSlack adds a Matrix reaction to the Slack message it annotates.
func (w *workspace) reactionToSlack(ctx context.Context, portal bridge.Portal, evt *event.Event) error {
	rel := evt.Content.AsReaction().RelatesTo
	target, err := w.b.store.MessageByEvent(ctx, rel.EventID)
	if bridge.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	name, ok := slackName(evt, rel.Key)
	if !ok {
		return nil // not an emoji Slack knows
	}
	p, ok, err := w.posterOf(ctx, portal, evt.Sender)
	if err != nil || !ok {
		return err
	}
	unlock := w.lockChannel(portal.ChannelID)
	defer unlock()
	err = p.api.Do(ctx, "reactions.add", func(ctx context.Context) error {
		return p.api.Client().AddReactionContext(ctx, name, slackapi.NewRefToMessage(portal.ChannelID, target.RemoteID))
	})
	if err != nil && !isSlackError(err, "already_reacted") {
		return fmt.Errorf("reactions.add: %w", err)
	}
	_, err = w.b.store.PutReaction(ctx, bridge.Reaction{Key: w.key, ChannelID: portal.ChannelID, MessageID: target.RemoteID,
		RemoteUserID: p.remoteID, Emoji: name, RoomID: portal.RoomID, EventID: evt.ID, CreatedTS: time.Now().UnixMilli()})
	return err
}

// slackName is the Slack name of a reaction's emoji: Slack's name of a Unicode emoji, or the
// shortcode of a custom emoji reacted with its image (the name must then be one of the
// workspace's own, which Slack checks).
func slackName(evt *event.Event, key string) (string, bool) {
	if strings.HasPrefix(key, "mxc://") {
		code, _ := evt.Content.Raw[shortcodeKey].(string)
		name := strings.Trim(code, ":")
		return name, name != ""
	}
	return slackfmt.UnicodeToShortcode(key)
}

// redactionToSlack deletes in Slack what a Matrix user deleted of their own: a message they
// posted, or a reaction.
func (w *workspace) redactionToSlack(ctx context.Context, portal bridge.Portal, evt *event.Event) error {
	p, ok, err := w.posterOf(ctx, portal, evt.Sender)
	if err != nil || !ok {
		return err
	}
	unlock := w.lockChannel(portal.ChannelID)
	defer unlock()
	if m, err := w.b.store.MessageByEvent(ctx, evt.Redacts); err == nil {
		if m.Sender != evt.Sender {
			return nil // Slack lets no one delete another's message through the bridge
		}
		err := p.api.Do(ctx, "chat.delete", func(ctx context.Context) error {
			_, _, err := p.api.Client().DeleteMessageContext(ctx, portal.ChannelID, m.RemoteID)
			return err
		})
		if err != nil && !isSlackError(err, "message_not_found") {
			return fmt.Errorf("chat.delete: %w", err)
		}
		return w.b.store.DeleteMessage(ctx, w.key, portal.ChannelID, m.RemoteID)
	}
	r, err := w.b.store.ReactionByEvent(ctx, evt.Redacts)
	if bridge.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	err = p.api.Do(ctx, "reactions.remove", func(ctx context.Context) error {
		return p.api.Client().RemoveReactionContext(ctx, r.Emoji, slackapi.NewRefToMessage(portal.ChannelID, r.MessageID))
	})
	if err != nil && !isSlackError(err, "no_reaction") {
		return fmt.Errorf("reactions.remove: %w", err)
	}
	return w.b.store.DeleteReaction(ctx, r.EventID)
}

// isSlackError reports whether err is Slack's {"ok":false,"error":code}.
func isSlackError(err error, code string) bool {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == code
	}
	return err != nil && err.Error() == code
}
