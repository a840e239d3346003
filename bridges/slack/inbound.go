package slack

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackfmt"
)

// The message subtypes the bridge reads as messages; others are edits, deletions, membership
// and channel changes, handled on their own, or are ignored.
var messageSubtypes = map[string]bool{
	"": true, "bot_message": true, "me_message": true, "thread_broadcast": true, "file_share": true,
}

// dispatch is Slack -> Matrix: one event from Socket Mode, in the order Slack sent it.
func (w *workspace) dispatch(ctx context.Context, ev slackevents.EventsAPIEvent) error {
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		return w.onMessageEvent(ctx, e)
	case *slackevents.ReactionAddedEvent:
		return w.onReactionAdded(ctx, e.Item.Channel, e.Item.Timestamp, e.User, e.Reaction)
	case *slackevents.ReactionRemovedEvent:
		return w.onReactionRemoved(ctx, e.Item.Channel, e.Item.Timestamp, e.User, e.Reaction)
	case *slackevents.MemberJoinedChannelEvent:
		return w.onMembership(ctx, e.Channel, e.User, true)
	case *slackevents.MemberLeftChannelEvent:
		return w.onMembership(ctx, e.Channel, e.User, false)
	case *slackevents.UserChangeEvent:
		return w.onUserChange(ctx, e.User.ID)
	case *slackevents.PinAddedEvent:
		return w.onPin(ctx, cmp.Or(e.Item.Channel, e.Channel), e.User, e.Item, true)
	case *slackevents.PinRemovedEvent:
		return w.onPin(ctx, cmp.Or(e.Item.Channel, e.Channel), e.User, e.Item, false)
	case *slackevents.EmojiChangedEvent:
		w.emoji.forget()
		return nil
	case *slackevents.ChannelRenameEvent:
		return w.onChannelInfo(ctx, e.Channel.ID, func(p *bridge.Portal) { p.Name = e.Channel.Name })
	}
	return nil
}

// onMessageEvent dispatches a message event by subtype.
func (w *workspace) onMessageEvent(ctx context.Context, e *slackevents.MessageEvent) error {
	if !w.bridges(e.Channel) {
		return nil
	}
	switch {
	case e.SubType == "message_changed":
		return w.onEdit(ctx, e.Channel, e.Message, e.PreviousMessage)
	case e.SubType == "message_deleted":
		return w.onDelete(ctx, e.Channel, e.DeletedTimeStamp)
	case e.Message != nil:
		m := *e.Message
		m.Channel = e.Channel
		return w.onMessage(ctx, &m)
	}
	return nil
}

// onMessage bridges a message as Slack has it, live or from the history.
func (w *workspace) onMessage(ctx context.Context, m *slackapi.Msg) error {
	switch m.SubType {
	case "channel_topic", "channel_purpose", "group_topic", "group_purpose":
		return w.onChannelInfo(ctx, m.Channel, func(p *bridge.Portal) {
			p.Topic = m.Topic
			if strings.HasSuffix(m.SubType, "purpose") {
				p.Topic = m.Purpose
			}
		})
	case "channel_name", "group_name":
		return w.onChannelInfo(ctx, m.Channel, func(p *bridge.Portal) { p.Name = m.Name })
	case "channel_join", "group_join":
		return w.onMembership(ctx, m.Channel, m.User, true)
	case "channel_leave", "group_leave":
		return w.onMembership(ctx, m.Channel, m.User, false)
	}
	if !messageSubtypes[m.SubType] {
		return nil
	}
	unlock := w.lockChannel(m.Channel)
	defer unlock()
	return w.bridgeMessage(ctx, m)
}

// bridgeMessage sends a new Slack message to its portal and records it. The caller holds the
// channel's lock.
func (w *workspace) bridgeMessage(ctx context.Context, m *slackapi.Msg) error {
	if w.isOwnPost(m) {
		return nil
	}
	done, err := w.b.store.Message(ctx, w.key, m.Channel, m.Timestamp)
	if err != nil || len(done) >= messageParts(m) {
		return err // bridged already: a redelivery, or catch-up meeting the live stream
	}
	portal, err := w.portal(ctx, m.Channel)
	if err != nil {
		return err
	}
	_, err = w.sendParts(ctx, portal, m, done, false)
	return err
}

// sendParts sends the parts of a message that are not in done (those bridged before, when the
// bridge stopped between parts) to the portal's room, and records each; with markEdit an edited
// message also gets its edit, as a last part, so that clients mark it edited. It returns the
// files that could not be copied. The caller holds the channel's lock.
func (w *workspace) sendParts(ctx context.Context, portal bridge.Portal, m *slackapi.Msg, done []bridge.Message, markEdit bool) ([]MissingFile, error) {
	intent, err := w.senderIntent(ctx, m)
	if err != nil || intent == nil {
		return nil, err
	}
	if err := intent.EnsureJoined(ctx, portal.RoomID); err != nil {
		return nil, fmt.Errorf("join %s to %s: %w", intent.UserID, portal.RoomID, err)
	}
	thread, err := w.threadOf(ctx, m, portal.RoomID)
	if err != nil {
		return nil, err
	}
	s := sender{w: w, intent: intent, portal: portal, msg: m, ts: slackMillis(m.Timestamp), thread: thread, done: len(done)}
	if len(done) > 0 {
		s.first = done[0].EventID
	}
	text := w.messageContent(ctx, m)
	if text != nil {
		if err := s.send(ctx, text, thread.inThread()); err != nil {
			return nil, err
		}
		if m.SubType == "thread_broadcast" {
			// Also sent to the channel: its copy in the main timeline.
			if err := s.send(ctx, w.messageContent(ctx, m), false); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range m.Files {
		if err := s.sendFile(ctx, f); err != nil {
			return nil, err
		}
	}
	if markEdit && m.Edited != nil && text != nil {
		if err := s.sendEdit(ctx, w.messageContent(ctx, m), slackMillis(m.Edited.Timestamp)); err != nil {
			return nil, err
		}
	}
	return s.missing, nil
}

// isOwnPost reports whether a message is the bot's own post (a relayed Matrix message) coming
// back. A double puppet's post is recognised later, by the message map.
func (w *workspace) isOwnPost(m *slackapi.Msg) bool {
	return m.BotID != "" && m.BotID == w.ident.BotID
}

// senderIntent returns who posts a Slack message in Matrix: the Matrix user who logged in as
// its Slack user (double puppeting: the homeserver granted the bridge to act as them), else
// the ghost of its user or bot. Messages of neither (rare system messages) are not bridged: nil.
func (w *workspace) senderIntent(ctx context.Context, m *slackapi.Msg) (*appservice.IntentAPI, error) {
	switch {
	case m.User != "" && w.mapped[m.User] != "":
		return w.b.puppet(ctx, w.mapped[m.User]), nil // an import's --user-map
	case m.User != "":
		if login, err := w.b.store.LoginByRemote(ctx, w.key, m.User); err == nil && w.b.puppets != nil {
			return w.b.puppet(ctx, login.UserID), nil
		}
		return w.userGhost(ctx, m.User)
	case m.BotID != "":
		return w.botGhost(ctx, m.BotID)
	}
	return nil, nil
}

// messageContent converts a message's text; nil when it has none (a file share without a
// comment). Bots speak in notices, as Matrix bots do: messages with a bot_id (how apps post),
// of the bot_message subtype, or from a user Slack marks as a bot.
func (w *workspace) messageContent(ctx context.Context, m *slackapi.Msg) *event.MessageEventContent {
	if m.Text == "" && len(m.Blocks.BlockSet) == 0 {
		return nil
	}
	converted := slackfmt.ToMatrix(m.Text, m.Blocks.BlockSet, resolver{w: w})
	msgType := event.MsgText
	switch {
	case m.SubType == "me_message":
		msgType = event.MsgEmote
	case m.SubType == "bot_message" || m.BotID != "" || w.isBotUser(ctx, m.User):
		msgType = event.MsgNotice
	}
	return converted.Content(msgType)
}

// isBotUser reports whether Slack marks a user as a bot, from its ghost's record.
func (w *workspace) isBotUser(ctx context.Context, userID string) bool {
	if userID == "" {
		return false
	}
	g, err := w.b.store.Ghost(ctx, w.key, userID)
	return err == nil && g.IsBot
}

// thread is where a message goes: the main timeline, or a thread whose root was bridged.
type thread struct {
	rootRemoteID string     // the Slack ts of the thread's root; "" in the main timeline
	rootEventID  id.EventID // the root's Matrix event
}

func (t thread) inThread() bool { return t.rootEventID != "" }

// threadOf finds the thread of a reply in a room. A reply whose root was never bridged (older
// than the portal), or is in another room (an imported past), goes to the main timeline.
func (w *workspace) threadOf(ctx context.Context, m *slackapi.Msg, roomID id.RoomID) (thread, error) {
	if m.ThreadTimestamp == "" || m.ThreadTimestamp == m.Timestamp {
		return thread{}, nil
	}
	root, err := w.b.store.Message(ctx, w.key, m.Channel, m.ThreadTimestamp)
	if err != nil || len(root) == 0 || root[0].RoomID != roomID {
		return thread{}, err
	}
	return thread{rootRemoteID: m.ThreadTimestamp, rootEventID: root[0].EventID}, nil
}

// messageParts is how many Matrix events a Slack message becomes: its text (twice for a thread
// broadcast, in the thread and in the channel) and one per file.
func messageParts(m *slackapi.Msg) int {
	n := len(m.Files)
	if m.Text != "" || len(m.Blocks.BlockSet) > 0 {
		n++
		if m.SubType == "thread_broadcast" {
			n++
		}
	}
	return n
}

// sender sends the parts of one Slack message and records each.
type sender struct {
	w      *workspace
	intent *appservice.IntentAPI
	portal bridge.Portal
	msg    *slackapi.Msg
	ts     int64
	thread thread
	part   int // the part being sent
	done   int // parts bridged before: skipped

	first   id.EventID    // the message's first event, once sent: what an edit replaces
	missing []MissingFile // the files that could not be copied
}

// send posts one part, in the thread or in the main timeline.
func (s *sender) send(ctx context.Context, content *event.MessageEventContent, inThread bool) error {
	if s.part < s.done {
		s.part++
		return nil
	}
	if inThread {
		content.RelatesTo = (&event.RelatesTo{}).SetThread(s.thread.rootEventID, s.thread.rootEventID)
	}
	return s.sendEvent(ctx, marked(content), s.ts, inThread)
}

// sendEvent posts the current part, at ts, with a transaction ID made of the message and the
// part: sent again after a crash between sending and recording, it is the same event, which
// the homeserver returns instead of posting it twice.
func (s *sender) sendEvent(ctx context.Context, content *event.Content, ts int64, inThread bool) error {
	txnID := fmt.Sprintf("slack.%s.%s.%d", s.msg.Channel, s.msg.Timestamp, s.part)
	resp, err := s.intent.SendMessageEvent(ctx, s.portal.RoomID, event.EventMessage, content, mautrix.ReqSendEvent{Timestamp: ts, TransactionID: txnID})
	if err != nil {
		return fmt.Errorf("send %s to %s: %w", s.msg.Timestamp, s.portal.RoomID, err)
	}
	if s.part == 0 {
		s.first = resp.EventID
	}
	return s.record(ctx, resp.EventID, inThread)
}

// sendEdit posts, as the current part, an edit of the first part that leaves it as it is:
// clients then show the message as edited, at ts.
func (s *sender) sendEdit(ctx context.Context, content *event.MessageEventContent, ts int64) error {
	if s.part < s.done {
		s.part++
		return nil
	}
	return s.sendEvent(ctx, marked(editOf(s.first, content)), ts, false)
}

// record notes that the current part became eventID.
func (s *sender) record(ctx context.Context, eventID id.EventID, inThread bool) error {
	threadID := ""
	if inThread {
		threadID = s.thread.rootRemoteID
	}
	_, err := s.w.b.store.PutMessage(ctx, bridge.Message{
		Key: s.w.key, ChannelID: s.msg.Channel, RemoteID: s.msg.Timestamp, Part: s.part, SortKey: slackMicros(s.msg.Timestamp),
		ThreadID: threadID, RoomID: s.portal.RoomID, EventID: eventID, Sender: s.intent.UserID, CreatedTS: time.Now().UnixMilli(),
	})
	s.part++
	return err
}

// onEdit bridges an edit as an m.replace of the message's first part. Changes that leave the
// text alone (link unfurls, attachments) are not edits to anyone reading, and are dropped.
func (w *workspace) onEdit(ctx context.Context, channelID string, m, prev *slackapi.Msg) error {
	if m == nil || (prev != nil && prev.Text == m.Text) || w.isOwnPost(m) {
		return nil
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	parts, err := w.b.store.Message(ctx, w.key, channelID, m.Timestamp)
	if err != nil || len(parts) == 0 {
		return err
	}
	if !w.b.ghostIDs.MatchString(string(parts[0].Sender)) {
		return nil // sent from Matrix: the edit came from there too
	}
	m.Channel = channelID
	content := w.messageContent(ctx, m)
	if content == nil {
		return nil
	}
	edit := editOf(parts[0].EventID, content)
	editTS := time.Now().UnixMilli()
	if m.Edited != nil {
		editTS = slackMillis(m.Edited.Timestamp)
	}
	_, err = w.b.as.Intent(parts[0].Sender).SendMassagedMessageEvent(ctx, parts[0].RoomID, event.EventMessage, marked(edit), editTS)
	return err
}

// editOf is the m.replace of target that makes it content.
func editOf(target id.EventID, content *event.MessageEventContent) *event.MessageEventContent {
	edit := &event.MessageEventContent{
		MsgType: content.MsgType, Body: "* " + content.Body, NewContent: content,
		RelatesTo: (&event.RelatesTo{}).SetReplace(target),
	}
	if content.FormattedBody != "" {
		edit.Format, edit.FormattedBody = event.FormatHTML, "* "+content.FormattedBody
	}
	return edit
}

// onDelete redacts every part of a deleted message.
func (w *workspace) onDelete(ctx context.Context, channelID, ts string) error {
	unlock := w.lockChannel(channelID)
	defer unlock()
	parts, err := w.b.store.Message(ctx, w.key, channelID, ts)
	if err != nil || len(parts) == 0 {
		return err // never bridged, or deleted from Matrix: its redaction is there already
	}
	bot := w.b.as.BotIntent()
	for _, p := range parts {
		if _, err := bot.RedactEvent(ctx, p.RoomID, p.EventID); err != nil {
			return fmt.Errorf("redact %s: %w", p.EventID, err)
		}
	}
	return w.b.store.DeleteMessage(ctx, w.key, channelID, ts)
}

// onReactionAdded bridges a reaction as an annotation from the reacting user's ghost.
func (w *workspace) onReactionAdded(ctx context.Context, channelID, ts, userID, name string) error {
	if !w.bridges(channelID) || userID == w.ident.BotUserID {
		return nil
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	if _, err := w.b.store.Reaction(ctx, w.key, channelID, ts, userID, name); err == nil || !bridge.IsNotFound(err) {
		return err // bridged already, or sent from Matrix
	}
	parts, err := w.b.store.Message(ctx, w.key, channelID, ts)
	if err != nil || len(parts) == 0 {
		return err
	}
	intent, err := w.userGhost(ctx, userID)
	if err != nil {
		return err
	}
	if err := intent.EnsureJoined(ctx, parts[0].RoomID); err != nil {
		return err
	}
	resp, err := intent.SendMessageEvent(ctx, parts[0].RoomID, event.EventReaction, w.reactionContent(ctx, parts[0].EventID, name))
	if err != nil {
		return err
	}
	_, err = w.b.store.PutReaction(ctx, bridge.Reaction{Key: w.key, ChannelID: channelID, MessageID: ts, RemoteUserID: userID,
		Emoji: name, RoomID: parts[0].RoomID, EventID: resp.EventID, CreatedTS: time.Now().UnixMilli()})
	return err
}

// shortcodeKey is where a custom-emoji reaction names its emoji, as Beeper's clients and
// bridges do: the annotation key is then the image's mxc URI.
const shortcodeKey = "com.beeper.reaction.shortcode"

// reactionContent is the annotation of a Slack reaction: keyed by the emoji itself, or for a
// workspace's custom emoji by its image (with its :name:), or by :name: when that fails.
func (w *workspace) reactionContent(ctx context.Context, target id.EventID, name string) *event.Content {
	rel := event.RelatesTo{Type: event.RelAnnotation, EventID: target, Key: ":" + name + ":"}
	raw := map[string]any{sourceKey: Network}
	if u, ok := slackfmt.ShortcodeToUnicode(name); ok {
		rel.Key = u
	} else if uri, ok := w.customEmoji(ctx, name); ok {
		rel.Key, raw[shortcodeKey] = uri.String(), ":"+name+":"
	}
	return &event.Content{Parsed: &event.ReactionEventContent{RelatesTo: rel}, Raw: raw}
}

// onReactionRemoved redacts the annotation of a removed reaction.
func (w *workspace) onReactionRemoved(ctx context.Context, channelID, ts, userID, name string) error {
	if !w.bridges(channelID) || userID == w.ident.BotUserID {
		return nil
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	r, err := w.b.store.Reaction(ctx, w.key, channelID, ts, userID, name)
	if bridge.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	// The bot redacts: the annotation may be a double-puppeted Matrix user's, not the ghost's.
	if _, err := w.b.as.BotIntent().RedactEvent(ctx, r.RoomID, r.EventID); err != nil {
		return err
	}
	return w.b.store.DeleteReaction(ctx, r.EventID)
}

// onMembership makes a user's ghost join or leave a channel's portal.
func (w *workspace) onMembership(ctx context.Context, channelID, userID string, joined bool) error {
	if !w.bridges(channelID) || userID == "" {
		return nil
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	if userID == w.ident.BotUserID {
		if joined {
			// Invited to a channel (a private one, say): it gets its portal now.
			_, err := w.portal(ctx, channelID)
			return err
		}
		return nil
	}
	portal, err := w.portal(ctx, channelID)
	if err != nil {
		return err
	}
	if !joined {
		// Slack says it twice (member_left_channel and a channel_leave message): the second
		// finds the ghost gone already.
		_, err := w.b.as.Intent(w.ghostID(userID)).LeaveRoom(ctx, portal.RoomID)
		if isForbidden(err) {
			return nil
		}
		return err
	}
	intent, err := w.userGhost(ctx, userID)
	if err != nil {
		return err
	}
	return intent.EnsureJoined(ctx, portal.RoomID)
}

// onUserChange refreshes a ghost's profile.
func (w *workspace) onUserChange(ctx context.Context, userID string) error {
	var u *slackapi.User
	err := w.call(ctx, "users.info", func(ctx context.Context) (err error) {
		u, err = w.bot().GetUserInfoContext(ctx, userID)
		return err
	})
	if err != nil {
		return err
	}
	return w.refreshGhost(ctx, u)
}

// onChannelInfo applies a change of a channel's name or topic to its portal.
func (w *workspace) onChannelInfo(ctx context.Context, channelID string, change func(p *bridge.Portal)) error {
	if !w.bridges(channelID) {
		return nil
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	p, err := w.b.store.Portal(ctx, w.key, channelID)
	if bridge.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	before := p
	change(&p)
	bot := w.b.as.BotIntent()
	if p.Name != before.Name && p.Kind != bridge.KindDM && p.Kind != bridge.KindGroupDM {
		if _, err := bot.SetRoomName(ctx, p.RoomID, "#"+p.Name); err != nil {
			return err
		}
	}
	if p.Topic != before.Topic {
		if _, err := bot.SetRoomTopic(ctx, p.RoomID, p.Topic); err != nil {
			return err
		}
	}
	return w.b.store.UpdatePortalInfo(ctx, p)
}

// sourceKey marks the content of every event the bridge sends, so that an event it sent as a
// double-puppeted Matrix user is not taken, when it comes back, for that user's own message.
const sourceKey = "net.causeway.bridge.source"

// marked wraps content with the bridge's mark.
func marked(content any) *event.Content {
	return &event.Content{Parsed: content, Raw: map[string]any{sourceKey: Network}}
}

// fromBridge reports whether an event carries the bridge's mark.
func fromBridge(evt *event.Event) bool {
	source, _ := evt.Content.Raw[sourceKey].(string)
	return source == Network
}

// slackMillis turns a Slack ts ("1700000000.000100") into Unix milliseconds.
func slackMillis(ts string) int64 { return slackMicros(ts) / 1000 }

// slackTS writes Unix microseconds as a Slack ts.
func slackTS(micros int64) string {
	return fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}

// slackMicros turns a Slack ts into Unix microseconds, which order a channel's messages.
func slackMicros(ts string) int64 {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0
	}
	frac = (frac + "000000")[:6]
	us, _ := strconv.ParseInt(frac, 10, 64)
	return s*1_000_000 + us
}
