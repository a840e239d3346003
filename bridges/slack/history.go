package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
)

// History writes a Slack workspace's past into the rooms the live bridge uses: the importer's
// way in (migration/importer). It bridges each message with the live code, from a Source that
// reads an export or the history API, with Slack's timestamps and authors, recording every
// event in the message map that the live bridge consults, so that the two never bridge a
// message twice. Each call holds the channel's lock, as live traffic does.
type History struct {
	w *workspace
}

// HistoryOptions say which workspace's past is written and where it is read from.
type HistoryOptions struct {
	TeamID   string // Slack's team ID: the workspace in the bridge store, configured or not
	TeamName string // for the space's name, when the import makes it
	Source   Source
	// Users attributes the messages of Slack users to existing Matrix accounts instead of
	// ghosts. The bridge is granted the right to post as each of them.
	Users map[string]id.UserID
}

// History returns the writer of a workspace's past. The workspace need not be configured:
// its rooms are then the ones the bridge uses once it is. The bridge bot is registered, the
// space made if missing, and the mapped users' grants given.
func (b *Bridge) History(ctx context.Context, opts HistoryOptions) (*History, error) {
	if opts.TeamID == "" || opts.Source == nil {
		return nil, errors.New("slack history: a team ID and a source are needed")
	}
	w := &workspace{b: b, src: opts.Source, http: b.httpClient, log: b.log.With("import", opts.TeamID),
		key: bridge.Key{Network: Network, Workspace: opts.TeamID}, teamName: opts.TeamName,
		mapped: opts.Users, channels: map[string]*slackapi.Channel{}}
	if live := b.workspaceByTeam(opts.TeamID); live != nil {
		w.ident, w.teamURL = live.ident, live.teamURL // its own posts are recognised
	}
	if err := b.ensureBot(ctx); err != nil {
		return nil, err
	}
	if err := w.ensureSpace(ctx); err != nil {
		return nil, err
	}
	for slackID, userID := range opts.Users {
		if b.puppets == nil {
			return nil, errors.New("slack history: this bridge cannot post as Matrix users (no puppets)")
		}
		if err := b.puppets.Grant(ctx, userID); err != nil {
			return nil, fmt.Errorf("slack history: post as %s for %s: %w", userID, slackID, err)
		}
	}
	return &History{w: w}, nil
}

// LocalAccount returns the account of this server that has the localpart, when one exists
// and is a person's (not a ghost or the bot): how an import matches Slack e-mail addresses.
func (b *Bridge) LocalAccount(ctx context.Context, localpart string) (id.UserID, bool, error) {
	userID := id.NewUserID(strings.ToLower(localpart), b.serverName)
	if _, _, err := userID.ParseAndValidateStrict(); err != nil || b.isBridgeUser(userID) {
		return "", false, nil
	}
	if err := b.ensureBot(ctx); err != nil {
		return "", false, err
	}
	if _, err := b.as.BotIntent().GetProfile(ctx, userID); errors.Is(err, mautrix.MNotFound) {
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("profile of %s: %w", userID, err)
	}
	return userID, true, nil
}

// GhostID is the Matrix user that stands for a Slack user of a team.
func (b *Bridge) GhostID(teamID, slackUserID string) id.UserID {
	w := workspace{b: b, key: bridge.Key{Network: Network, Workspace: teamID}}
	return w.ghostID(slackUserID)
}

// Ghost registers a Slack user's ghost with the profile given (an export's users.json entry),
// unless the user is mapped to a Matrix account.
func (h *History) Ghost(ctx context.Context, u *slackapi.User) error {
	if h.w.mapped[u.ID] != "" {
		return nil
	}
	return h.w.refreshGhost(ctx, u)
}

// Portal returns a conversation's portal, making its room (in the space, with the members'
// ghosts joined) when it has none; created says it did.
func (h *History) Portal(ctx context.Context, ch *slackapi.Channel) (p bridge.Portal, created bool, err error) {
	w := h.w
	unlock := w.lockChannel(ch.ID)
	defer unlock()
	p, err = w.b.store.Portal(ctx, w.key, ch.ID)
	if err == nil || !bridge.IsNotFound(err) {
		return p, false, err
	}
	var invite []id.UserID
	if isDMKind(ChannelKind(ch)) {
		for _, member := range ch.Members {
			if mx := w.mapped[member]; mx != "" {
				invite = append(invite, mx)
			}
		}
	}
	p, err = w.createPortalRoom(ctx, ch, invite)
	if err != nil {
		return bridge.Portal{}, false, err
	}
	for _, member := range ch.Members {
		if err := h.join(ctx, p.RoomID, member); err != nil {
			w.log.WarnContext(ctx, "a member's ghost cannot join an imported portal", "user", member, "error", err)
		}
	}
	return p, true, nil
}

// join makes a Slack user's ghost join a room. A mapped Matrix user is invited instead: their
// account joins on their own.
func (h *History) join(ctx context.Context, roomID id.RoomID, slackUserID string) error {
	if mx := h.w.mapped[slackUserID]; mx != "" {
		_, err := h.w.b.as.BotIntent().InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: mx})
		if err != nil && !hasErrCode(err, mautrix.MForbidden.ErrCode) {
			return err // forbidden: a member already
		}
		return nil
	}
	intent, err := h.intentOf(ctx, slackUserID)
	if err != nil {
		return err
	}
	return intent.EnsureJoined(ctx, roomID)
}

// stateRoomPredecessor is MSC3946's event, with which a room names its predecessor after its
// creation; clients that know it show the predecessor's history above the room's own.
var (
	stateRoomPredecessor         = event.Type{Type: "m.room.predecessor", Class: event.StateEventType}
	stateRoomPredecessorUnstable = event.Type{Type: "org.matrix.msc3946.room_predecessor", Class: event.StateEventType}
)

// HistoryRoom makes the room that holds the past of a portal which already has live traffic:
// the past cannot go before the live messages in the portal's own timeline. The history room is
// tombstoned towards the portal, and the portal names it as its predecessor, so that clients
// show one conversation.
func (h *History) HistoryRoom(ctx context.Context, p bridge.Portal) (id.RoomID, error) {
	w := h.w
	bot := w.b.as.BotIntent()
	req := &mautrix.ReqCreateRoom{
		Name:   historyRoomName(p),
		Topic:  "Imported history of the Slack conversation, before it was bridged to " + p.RoomID.String(),
		Preset: "private_chat",
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users: map[id.UserID]int{bot.UserID: 100}, Events: portalEventLevels(),
		},
		InitialState: []*event.Event{{Type: event.StateHistoryVisibility, Content: event.Content{
			Parsed: &event.HistoryVisibilityEventContent{HistoryVisibility: event.HistoryVisibilityShared}}}},
	}
	if p.Kind == bridge.KindChannel {
		req.Preset = "public_chat"
	}
	resp, err := bot.CreateRoom(ctx, req)
	if err != nil {
		return "", fmt.Errorf("create the history room of %s: %w", p.ChannelID, err)
	}
	tombstone := &event.TombstoneEventContent{Body: "This is the imported history; the conversation goes on in the bridged room.", ReplacementRoom: p.RoomID}
	if _, err := bot.SendStateEvent(ctx, resp.RoomID, event.StateTombstone, "", tombstone); err != nil {
		return "", fmt.Errorf("tombstone the history room: %w", err)
	}
	predecessor := map[string]any{"predecessor_room_id": resp.RoomID, "via_servers": []string{w.b.serverName}}
	for _, typ := range []event.Type{stateRoomPredecessor, stateRoomPredecessorUnstable} {
		if _, err := bot.SendStateEvent(ctx, p.RoomID, typ, "", predecessor); err != nil {
			return "", fmt.Errorf("name the history room as the portal's predecessor (the bot needs power level 100 there): %w", err)
		}
	}
	return resp.RoomID, nil
}

func historyRoomName(p bridge.Portal) string {
	if isDMKind(p.Kind) {
		return "Slack history"
	}
	return "#" + p.Name + " (history)"
}

// Imported is what importing one message did.
type Imported struct {
	Events  int           // Matrix events sent now (reactions included)
	Skipped bool          // imported before, or nothing to import (a leave, an empty message)
	Missing []MissingFile // files that could not be copied
}

// Import writes one message of a conversation into room (its portal's, or its history room),
// as the live bridge would have, at its Slack time. What was imported before is not sent again;
// a message cut short by a crash is completed.
func (h *History) Import(ctx context.Context, p bridge.Portal, room id.RoomID, m *slackapi.Msg) (Imported, error) {
	w := h.w
	m.Channel = p.ChannelID
	unlock := w.lockChannel(p.ChannelID)
	defer unlock()
	target := p
	target.RoomID = room
	var res Imported
	var err error
	switch m.SubType {
	case "channel_topic", "group_topic", "channel_purpose", "group_purpose", "channel_name", "group_name":
		res, err = h.importChange(ctx, target, m)
	case "channel_join", "group_join":
		// The ghost joins now; its membership is current, not historical.
		res.Skipped = true
		if m.User != "" {
			err = h.join(ctx, room, m.User)
		}
	case "channel_leave", "group_leave":
		res.Skipped = true // who is in the channel now is the members list's business
	default:
		res, err = h.importMessage(ctx, target, m)
	}
	if err != nil {
		return res, err
	}
	n, err := h.importReactions(ctx, room, m)
	res.Events += n
	return res, err
}

// importMessage sends a message's parts, and the edit that marks an edited one. Subtypes the
// live bridge does not show (pins, huddles, canvases, others) are summarised in a notice.
func (h *History) importMessage(ctx context.Context, target bridge.Portal, m *slackapi.Msg) (Imported, error) {
	w := h.w
	summary := !messageSubtypes[m.SubType]
	if summary {
		if m.Text == "" {
			return Imported{Skipped: true}, nil
		}
		*m = summarised(*m)
	}
	want := messageParts(m)
	if m.Edited != nil && want > 0 && (m.Text != "" || len(m.Blocks.BlockSet) > 0) {
		want++
	}
	done, err := w.b.store.Message(ctx, w.key, m.Channel, m.Timestamp)
	if err != nil || len(done) >= want || want == 0 {
		return Imported{Skipped: true}, err
	}
	if m.User == "" && m.BotID == "" {
		m.BotID = "B" + strings.ToUpper(m.Username) // a legacy integration, known by its name only
	}
	missing, err := w.sendParts(ctx, target, m, done, true)
	return Imported{Events: want - len(done), Missing: missing}, err
}

// summarised turns a message of a subtype the bridge does not show as such into a notice from
// its author, prefixed with what it was.
func summarised(m slackapi.Msg) slackapi.Msg {
	prefix := map[string]string{"pinned_item": "📌 ", "unpinned_item": "📌 ", "huddle_thread": "📞 Huddle: "}[m.SubType]
	if strings.Contains(m.SubType, "canvas") {
		prefix = "📝 Canvas: "
	}
	m.Text = prefix + m.Text
	m.Blocks = slackapi.Blocks{}
	m.SubType = "bot_message" // shown as a notice
	return m
}

// importChange applies a change of a channel's topic, purpose or name as the state event of its
// author, at its time. It is recorded as the message's one part.
func (h *History) importChange(ctx context.Context, target bridge.Portal, m *slackapi.Msg) (Imported, error) {
	w := h.w
	done, err := w.b.store.Message(ctx, w.key, m.Channel, m.Timestamp)
	if err != nil || len(done) > 0 {
		return Imported{Skipped: true}, err
	}
	intent, err := w.senderIntent(ctx, m)
	if err != nil || intent == nil {
		return Imported{Skipped: true}, err
	}
	typ, content := event.StateTopic, any(&event.TopicEventContent{Topic: m.Topic})
	switch {
	case strings.HasSuffix(m.SubType, "purpose"):
		content = &event.TopicEventContent{Topic: m.Purpose}
	case strings.HasSuffix(m.SubType, "name"):
		if isDMKind(target.Kind) {
			return Imported{Skipped: true}, nil
		}
		typ, content = event.StateRoomName, &event.RoomNameEventContent{Name: "#" + m.Name}
	}
	if err := intent.EnsureJoined(ctx, target.RoomID); err != nil {
		return Imported{}, err
	}
	resp, err := intent.SendStateEvent(ctx, target.RoomID, typ, "", content, mautrix.ReqSendEvent{Timestamp: slackMillis(m.Timestamp)})
	if err != nil {
		return Imported{}, fmt.Errorf("send %s to %s: %w", m.Timestamp, target.RoomID, err)
	}
	_, err = w.b.store.PutMessage(ctx, bridge.Message{
		Key: w.key, ChannelID: m.Channel, RemoteID: m.Timestamp, SortKey: slackMicros(m.Timestamp),
		RoomID: target.RoomID, EventID: resp.EventID, Sender: intent.UserID, CreatedTS: time.Now().UnixMilli(),
	})
	return Imported{Events: 1}, err
}

// importReactions sends each user's reaction to a message that is not sent yet, at the
// message's time (Slack keeps no time for reactions).
func (h *History) importReactions(ctx context.Context, room id.RoomID, m *slackapi.Msg) (int, error) {
	w := h.w
	if len(m.Reactions) == 0 {
		return 0, nil
	}
	parts, err := w.b.store.Message(ctx, w.key, m.Channel, m.Timestamp)
	if err != nil || len(parts) == 0 || parts[0].RoomID != room {
		return 0, err
	}
	sent := 0
	for _, r := range m.Reactions {
		for _, userID := range r.Users {
			if _, err := w.b.store.Reaction(ctx, w.key, m.Channel, m.Timestamp, userID, r.Name); err == nil {
				continue
			} else if !bridge.IsNotFound(err) {
				return sent, err
			}
			if err := h.react(ctx, parts[0], userID, r.Name); err != nil {
				return sent, err
			}
			sent++
		}
	}
	return sent, nil
}

// react sends and records one user's reaction to a message's first event.
func (h *History) react(ctx context.Context, target bridge.Message, userID, name string) error {
	w := h.w
	intent, err := h.intentOf(ctx, userID)
	if err != nil {
		return err
	}
	if err := intent.EnsureJoined(ctx, target.RoomID); err != nil {
		return err
	}
	txnID := fmt.Sprintf("slack.react.%s.%s.%s.%s", target.ChannelID, target.RemoteID, userID, name)
	resp, err := intent.SendMessageEvent(ctx, target.RoomID, event.EventReaction, w.reactionContent(ctx, target.EventID, name),
		mautrix.ReqSendEvent{Timestamp: slackMillis(target.RemoteID), TransactionID: txnID})
	if err != nil {
		return fmt.Errorf("reaction %s of %s: %w", name, userID, err)
	}
	_, err = w.b.store.PutReaction(ctx, bridge.Reaction{Key: w.key, ChannelID: target.ChannelID, MessageID: target.RemoteID,
		RemoteUserID: userID, Emoji: name, RoomID: target.RoomID, EventID: resp.EventID, CreatedTS: time.Now().UnixMilli()})
	return err
}

// intentOf is who acts for a Slack user: the Matrix account it is mapped to, or its ghost.
func (h *History) intentOf(ctx context.Context, slackUserID string) (*appservice.IntentAPI, error) {
	if mx := h.w.mapped[slackUserID]; mx != "" {
		return h.w.b.puppet(ctx, mx), nil
	}
	return h.w.userGhost(ctx, slackUserID)
}

// ReadOnly makes a room read-only: an archived channel's portal, or a history room once its
// past is in. Only the bridge bot may post afterwards.
func (h *History) ReadOnly(ctx context.Context, room id.RoomID) error {
	bot := h.w.b.as.BotIntent()
	var pl event.PowerLevelsEventContent
	if err := bot.StateEvent(ctx, room, event.StatePowerLevels, "", &pl); err != nil {
		return fmt.Errorf("power levels of %s: %w", room, err)
	}
	if pl.EventsDefault >= 100 {
		return nil
	}
	pl.EventsDefault = 100
	if pl.Events == nil {
		pl.Events = map[string]int{}
	}
	pl.Events[event.EventReaction.Type] = 100
	pl.Events[event.StateTopic.Type], pl.Events[event.StateRoomName.Type], pl.Events[event.StatePinnedEvents.Type] = 100, 100, 100
	_, err := bot.SendStateEvent(ctx, room, event.StatePowerLevels, "", &pl)
	return err
}
