package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
)

// bridgeInfo is the content of a portal's m.bridge state event (MSC2346), which clients show
// as "bridged to Slack, channel #x", and of its uk.half-shot.bridge twin.
type bridgeInfo struct {
	BridgeBot id.UserID         `json:"bridgebot"`
	Creator   id.UserID         `json:"creator,omitempty"`
	Protocol  bridgeInfoSection `json:"protocol"`
	Network   bridgeInfoSection `json:"network"`
	Channel   bridgeInfoSection `json:"channel"`
}

type bridgeInfoSection struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayname,omitempty"`
	ExternalURL string `json:"external_url,omitempty"`
}

var (
	stateBridge      = event.Type{Type: "m.bridge", Class: event.StateEventType}
	stateHalfShot    = event.Type{Type: "uk.half-shot.bridge", Class: event.StateEventType}
	stateSpaceChild  = event.Type{Type: "m.space.child", Class: event.StateEventType}
	stateSpaceParent = event.Type{Type: "m.space.parent", Class: event.StateEventType}
)

// bridgeStateKey names the channel in the portal's m.bridge state key.
func (w *workspace) bridgeStateKey(channelID string) string {
	return "net.causeway.slack://" + w.key.Workspace + "/" + channelID
}

// portal returns the portal of a channel, creating its room on first use. The caller holds the
// channel's lock.
func (w *workspace) portal(ctx context.Context, channelID string) (bridge.Portal, error) {
	p, err := w.b.store.Portal(ctx, w.key, channelID)
	if err == nil || !bridge.IsNotFound(err) {
		return p, err
	}
	ch, err := w.src.Conversation(ctx, channelID)
	if err != nil {
		return bridge.Portal{}, fmt.Errorf("channel %s: %w", channelID, err)
	}
	return w.createPortal(ctx, ch)
}

// ChannelKind says which kind of portal a Slack conversation makes (bridge.KindChannel, …).
func ChannelKind(ch *slackapi.Channel) string {
	switch {
	case ch.IsIM:
		return bridge.KindDM
	case ch.IsMpIM:
		return bridge.KindGroupDM
	case ch.IsPrivate:
		return bridge.KindPrivate
	}
	return bridge.KindChannel
}

// channelTopic is what the portal's topic shows: the topic, or the purpose when there is none.
func channelTopic(ch *slackapi.Channel) string {
	if ch.Topic.Value != "" {
		return ch.Topic.Value
	}
	return ch.Purpose.Value
}

// createPortal makes the room of a channel, in the workspace's space, records it, and has its
// members' ghosts join.
func (w *workspace) createPortal(ctx context.Context, ch *slackapi.Channel) (bridge.Portal, error) {
	p, err := w.createPortalRoom(ctx, ch, nil)
	if err != nil {
		return bridge.Portal{}, err
	}
	w.joinMembers(ctx, p)
	return p, nil
}

// createPortalRoom makes and records the room of a conversation, inviting invite.
func (w *workspace) createPortalRoom(ctx context.Context, ch *slackapi.Channel, invite []id.UserID) (bridge.Portal, error) {
	kind := ChannelKind(ch)
	p := bridge.Portal{Key: w.key, ChannelID: ch.ID, Kind: kind, Name: ch.Name, Topic: channelTopic(ch), CreatedTS: time.Now().UnixMilli()}
	bot := w.b.as.BotIntent()
	info := bridgeInfo{
		BridgeBot: bot.UserID,
		Protocol:  bridgeInfoSection{ID: "slack", DisplayName: "Slack"},
		Network:   bridgeInfoSection{ID: w.key.Workspace, DisplayName: w.teamName, ExternalURL: w.teamURL},
		Channel:   bridgeInfoSection{ID: ch.ID, DisplayName: ch.Name},
	}
	stateKey := w.bridgeStateKey(ch.ID)
	initial := []*event.Event{
		{Type: stateBridge, StateKey: &stateKey, Content: event.Content{Raw: structToMap(info)}},
		{Type: stateHalfShot, StateKey: &stateKey, Content: event.Content{Raw: structToMap(info)}},
	}
	if w.space != "" && !isDMKind(kind) {
		key := w.space.String()
		initial = append(initial, &event.Event{Type: stateSpaceParent, StateKey: &key,
			Content: event.Content{Raw: map[string]any{"via": []string{w.b.serverName}, "canonical": true}}})
	}
	req := &mautrix.ReqCreateRoom{
		Name:         portalName(ch),
		Topic:        p.Topic,
		Preset:       "private_chat",
		InitialState: initial,
		Invite:       invite,
		IsDirect:     kind == bridge.KindDM,
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users:  map[id.UserID]int{bot.UserID: 100},
			Events: portalEventLevels(),
		},
	}
	if kind == bridge.KindChannel {
		// Local users may join public channels' portals on their own (from the space or the
		// directory); Slack decides who is in private ones.
		req.Preset = "public_chat"
		if w.b.cfg.PublicPortals {
			req.Visibility = "public"
		}
	}
	resp, err := bot.CreateRoom(ctx, req)
	if err != nil {
		return bridge.Portal{}, fmt.Errorf("create the portal of %s: %w", ch.ID, err)
	}
	p.RoomID = resp.RoomID
	if err := w.b.store.PutPortal(ctx, p); err != nil {
		return bridge.Portal{}, err
	}
	if w.space != "" && !isDMKind(kind) {
		_, err := bot.SendStateEvent(ctx, w.space, stateSpaceChild, p.RoomID.String(), map[string]any{"via": []string{w.b.serverName}})
		if err != nil {
			w.log.WarnContext(ctx, "cannot add a portal to the workspace's space", "room_id", p.RoomID, "error", err)
		}
	}
	w.log.InfoContext(ctx, "portal created", "channel", ch.ID, "name", ch.Name, "room_id", p.RoomID)
	return p, nil
}

// initialMembers bounds how many of a new portal's members join it at once; the others join
// when they first speak or react.
const initialMembers = 100

// joinMembers makes the ghosts of a channel's members join its new portal, so that the room
// shows who is in the channel. Failures are logged: the ghosts join later on their own.
func (w *workspace) joinMembers(ctx context.Context, p bridge.Portal) {
	var members []string
	err := w.call(ctx, "conversations.members", func(ctx context.Context) (err error) {
		members, _, err = w.bot().GetUsersInConversationContext(ctx, &slackapi.GetUsersInConversationParameters{ChannelID: p.ChannelID, Limit: initialMembers})
		return err
	})
	if err != nil {
		w.log.WarnContext(ctx, "cannot list a channel's members", "channel", p.ChannelID, "error", err)
		return
	}
	for _, userID := range members {
		if userID == w.ident.BotUserID {
			continue
		}
		intent, err := w.userGhost(ctx, userID)
		if err == nil {
			err = intent.EnsureJoined(ctx, p.RoomID)
		}
		if err != nil {
			w.log.WarnContext(ctx, "a member's ghost cannot join a new portal", "user", userID, "error", err)
		}
	}
}

// portalEventLevels are the power levels of state events in portals. As in a Slack channel,
// any member may pin messages, set the topic and rename it; the rest is the spec's defaults.
func portalEventLevels() map[string]int {
	return map[string]int{
		event.StatePinnedEvents.Type: 0, event.StateTopic.Type: 0, event.StateRoomName.Type: 0,
		event.StateRoomAvatar.Type: 50, event.StateCanonicalAlias.Type: 50,
		event.StatePowerLevels.Type: 100, event.StateHistoryVisibility.Type: 100, event.StateTombstone.Type: 100,
		event.StateServerACL.Type: 100, event.StateEncryption.Type: 100,
	}
}

// portalName is the room name of a channel's portal: "#general" for channels, none for DMs
// (clients then name them after the other member).
func portalName(ch *slackapi.Channel) string {
	if ch.IsIM || ch.IsMpIM {
		return ""
	}
	return "#" + ch.Name
}

// ensureSpace finds or makes the space that holds the workspace's portals.
func (w *workspace) ensureSpace(ctx context.Context) error {
	roomID, err := w.b.store.Space(ctx, w.key)
	if err == nil {
		w.space = roomID
		return nil
	} else if !bridge.IsNotFound(err) {
		return err
	}
	resp, err := w.b.as.BotIntent().CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Name:            "Slack: " + w.teamName,
		Topic:           "The channels of the Slack workspace " + w.teamName + ", bridged",
		Preset:          "public_chat",
		CreationContent: map[string]any{"type": "m.space"},
	})
	if err != nil {
		return fmt.Errorf("create the workspace's space: %w", err)
	}
	if err := w.b.store.PutSpace(ctx, w.key, resp.RoomID); err != nil {
		return err
	}
	w.space = resp.RoomID
	return nil
}

// structToMap turns a JSON-tagged struct into the map event content takes.
func structToMap(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed structs of this package come here
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	return m
}

// findChannel finds a channel by ID or by name (with or without #).
func (w *workspace) findChannel(ctx context.Context, arg string) (*slackapi.Channel, error) {
	name := strings.TrimPrefix(arg, "#")
	var found *slackapi.Channel
	cursor := ""
	for found == nil {
		var page []slackapi.Channel
		err := w.call(ctx, "conversations.list", func(ctx context.Context) (err error) {
			page, cursor, err = w.bot().GetConversationsContext(ctx, &slackapi.GetConversationsParameters{
				Types: []string{"public_channel", "private_channel"}, Cursor: cursor, Limit: 200, ExcludeArchived: true,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("conversations.list: %w", err)
		}
		for i := range page {
			if page[i].ID == arg || page[i].Name == name {
				found = &page[i]
			}
		}
		if cursor == "" {
			break
		}
	}
	if found == nil {
		return nil, &bridge.NotFoundError{What: fmt.Sprintf("a channel %s that the bot can see", arg)}
	}
	w.rememberChannel(found)
	return found, nil
}

// bridgeChannel bridges a channel: the portal is a new room, or the existing room into when
// given, and then the bot joins the channel if it is public and the bot is not in it. The
// portal comes first, so that the bot's own join, when Slack reports it, finds it.
func (w *workspace) bridgeChannel(ctx context.Context, ch *slackapi.Channel, into id.RoomID) (bridge.Portal, error) {
	if !ch.IsMember && ch.IsPrivate {
		return bridge.Portal{}, fmt.Errorf("invite the bot to #%s in Slack first", ch.Name)
	}
	p, err := w.newPortal(ctx, ch, into)
	if err != nil || ch.IsMember {
		return p, err
	}
	err = w.call(ctx, "conversations.join", func(ctx context.Context) error {
		_, _, _, err := w.bot().JoinConversationContext(ctx, ch.ID)
		return err
	})
	if err != nil {
		return bridge.Portal{}, fmt.Errorf("conversations.join: %w", err)
	}
	return p, nil
}

// newPortal makes the portal of a channel that has none.
func (w *workspace) newPortal(ctx context.Context, ch *slackapi.Channel, into id.RoomID) (bridge.Portal, error) {
	unlock := w.lockChannel(ch.ID)
	defer unlock()
	if p, err := w.b.store.Portal(ctx, w.key, ch.ID); err == nil {
		return bridge.Portal{}, fmt.Errorf("#%s is bridged already, to %s", ch.Name, p.RoomID)
	}
	if into == "" {
		return w.createPortal(ctx, ch)
	}
	return w.adoptRoom(ctx, ch, into)
}

// adoptRoom makes an existing Matrix room the portal of a channel: it gets the m.bridge state
// events and joins the workspace's space. The bot needs the power to send state there.
func (w *workspace) adoptRoom(ctx context.Context, ch *slackapi.Channel, roomID id.RoomID) (bridge.Portal, error) {
	bot := w.b.as.BotIntent()
	info := structToMap(bridgeInfo{
		BridgeBot: bot.UserID,
		Protocol:  bridgeInfoSection{ID: "slack", DisplayName: "Slack"},
		Network:   bridgeInfoSection{ID: w.key.Workspace, DisplayName: w.teamName, ExternalURL: w.teamURL},
		Channel:   bridgeInfoSection{ID: ch.ID, DisplayName: ch.Name},
	})
	for _, typ := range []event.Type{stateBridge, stateHalfShot} {
		if _, err := bot.SendStateEvent(ctx, roomID, typ, w.bridgeStateKey(ch.ID), info); err != nil {
			return bridge.Portal{}, fmt.Errorf("the bot may not mark the room as bridged (give it power level 50): %w", err)
		}
	}
	p := bridge.Portal{Key: w.key, ChannelID: ch.ID, RoomID: roomID, Kind: ChannelKind(ch), Name: ch.Name, Topic: channelTopic(ch), CreatedTS: time.Now().UnixMilli()}
	if err := w.b.store.PutPortal(ctx, p); err != nil {
		return bridge.Portal{}, err
	}
	if w.space != "" {
		if _, err := bot.SendStateEvent(ctx, w.space, stateSpaceChild, roomID.String(), map[string]any{"via": []string{w.b.serverName}}); err != nil {
			w.log.WarnContext(ctx, "cannot add a portal to the workspace's space", "room_id", roomID, "error", err)
		}
	}
	return p, nil
}

// unbridge stops bridging a portal's channel. The room stays, with its history; its m.bridge
// state is emptied so that clients stop showing it as bridged.
func (w *workspace) unbridge(ctx context.Context, p bridge.Portal) error {
	unlock := w.lockChannel(p.ChannelID)
	defer unlock()
	if err := w.b.store.DeletePortal(ctx, w.key, p.ChannelID); err != nil {
		return err
	}
	bot := w.b.as.BotIntent()
	for _, typ := range []event.Type{stateBridge, stateHalfShot} {
		if _, err := bot.SendStateEvent(ctx, p.RoomID, typ, w.bridgeStateKey(p.ChannelID), map[string]any{}); err != nil {
			w.log.WarnContext(ctx, "cannot clear a portal's bridge state", "room_id", p.RoomID, "error", err)
		}
	}
	return nil
}

// resync brings a portal's name and topic in line with its channel and catches it up.
func (w *workspace) resync(ctx context.Context, channelID string) error {
	var ch *slackapi.Channel
	err := w.call(ctx, "conversations.info", func(ctx context.Context) (err error) {
		ch, err = w.bot().GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: channelID})
		return err
	})
	if err != nil {
		return fmt.Errorf("conversations.info: %w", err)
	}
	err = w.onChannelInfo(ctx, channelID, func(p *bridge.Portal) { p.Name, p.Topic = ch.Name, channelTopic(ch) })
	if err != nil {
		return err
	}
	return w.catchUp(ctx, channelID, false)
}
