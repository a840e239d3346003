package fakeslack

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// convKind is the type of a conversation, as conversations.list's "types" names it.
type convKind string

const (
	publicChannel  convKind = "public_channel"
	privateChannel convKind = "private_channel"
	directMessage  convKind = "im"
	groupMessage   convKind = "mpim"
)

// ChannelSpec describes a conversation for AddChannel.
type ChannelSpec struct {
	Name      string
	Private   bool
	Creator   string   // a user ID; defaults to the first member, or Slackbot
	Members   []string // user IDs
	BotMember bool     // whether the app's bot user is a member, so that it gets events
	Topic     string
	Purpose   string
	General   bool // the workspace's #general
}

// Channel is a conversation as AddChannel and OpenDM report it.
type Channel struct {
	ID   string
	Name string // "" for a direct message
}

// channel is a conversation's stored state: its settings, members and messages.
type channel struct {
	id, name      string
	kind          convKind
	created       int64
	creator       string
	general       bool
	archived      bool
	members       []string
	topic         channelText
	purpose       channelText
	previousNames []string

	messages map[string]*Message // by ts
	order    []string            // message timestamps, oldest first
	pins     []pin               // oldest first
}

// channelText is a topic or purpose and who set it when.
type channelText struct {
	Value   string `json:"value"`
	Creator string `json:"creator"`
	LastSet int64  `json:"last_set"`
}

func (ch *channel) isMember(userID string) bool { return slices.Contains(ch.members, userID) }

// isDirect reports whether ch is a direct message, one-to-one or group.
func (ch *channel) isDirect() bool { return ch.kind == directMessage || ch.kind == groupMessage }

// eventType is the conversation's "channel_type" in message events.
func (ch *channel) eventType() string {
	return map[convKind]string{
		publicChannel: "channel", privateChannel: "group", directMessage: "im", groupMessage: "mpim",
	}[ch.kind]
}

// memberType is the conversation's "channel_type" in member_joined_channel events.
func (ch *channel) memberType() string {
	if ch.kind == publicChannel {
		return "C"
	}
	return "G"
}

func (w *workspace) addChannel(kind convKind, name, creator string, members []string) *channel {
	prefix := "C"
	if kind == directMessage {
		prefix = "D"
	}
	ch := &channel{
		id:       w.ids.next(prefix),
		name:     name,
		kind:     kind,
		created:  w.clock.unix(),
		creator:  creator,
		members:  slices.Clone(members),
		messages: map[string]*Message{},
	}
	w.channels[ch.id] = ch
	w.chanIDs = append(w.chanIDs, ch.id)
	return ch
}

// channel finds a conversation by ID, whoever may see it.
func (w *workspace) channel(id string) (*channel, error) {
	ch, ok := w.channels[id]
	if !ok {
		return nil, errChannelNotFound
	}
	return ch, nil
}

// visibleChannel finds a conversation userID may see: any public channel, and the others
// they are a member of. Slack answers channel_not_found for the rest, hiding that they exist.
func (w *workspace) visibleChannel(id, userID string) (*channel, error) {
	ch, err := w.channel(id)
	if err != nil {
		return nil, err
	}
	if ch.kind != publicChannel && !ch.isMember(userID) {
		return nil, errChannelNotFound
	}
	return ch, nil
}

// memberChannel finds a conversation userID is a member of, for acting in it.
func (w *workspace) memberChannel(id, userID string) (*channel, error) {
	ch, err := w.visibleChannel(id, userID)
	if err != nil {
		return nil, err
	}
	if !ch.isMember(userID) {
		return nil, errNotInChannel
	}
	return ch, nil
}

// channelNamePattern is what Slack allows in a channel name.
var channelNamePattern = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_\-]{1,80}$`)

// checkChannelName validates a new name for ch.
func (w *workspace) checkChannelName(name string, ch *channel) error {
	if !channelNamePattern.MatchString(name) {
		return errInvalidChannelName
	}
	for _, other := range w.channels {
		if other != ch && other.name == name && !other.isDirect() {
			return errNameTaken
		}
	}
	return nil
}

// join makes userID a member of ch and announces it with member_joined_channel and a
// channel_join message, as Slack does. inviter is "" when the user joined by themselves.
func (w *workspace) join(ch *channel, userID, inviter string) error {
	if ch.archived {
		return errIsArchived
	}
	if ch.isMember(userID) {
		return nil
	}
	ch.members = append(ch.members, userID)
	ev := obj{
		"type":         "member_joined_channel",
		"user":         userID,
		"channel":      ch.id,
		"channel_type": ch.memberType(),
		"team":         w.team.id,
		"event_ts":     w.clock.nextTS(),
	}
	if inviter != "" {
		ev["inviter"] = inviter
	}
	w.emit(ch, ev)
	_, err := w.post(ch, post{
		author:  userID,
		asBot:   userID == w.app.botUserID,
		subtype: "channel_join",
		text:    fmt.Sprintf("<@%s> has joined the channel", userID),
		inviter: inviter,
	})
	return err
}

// leave removes userID from ch with a channel_leave message and member_left_channel,
// both sent while the user is still a member, so that a leaving bot sees them too.
func (w *workspace) leave(ch *channel, userID string) error {
	if !ch.isMember(userID) {
		return errNotInChannel
	}
	if _, err := w.post(ch, post{
		author:  userID,
		asBot:   userID == w.app.botUserID,
		subtype: "channel_leave",
		text:    fmt.Sprintf("<@%s> has left the channel", userID),
	}); err != nil {
		return err
	}
	w.emit(ch, obj{
		"type":         "member_left_channel",
		"user":         userID,
		"channel":      ch.id,
		"channel_type": ch.memberType(),
		"team":         w.team.id,
		"event_ts":     w.clock.nextTS(),
	})
	ch.members = slices.DeleteFunc(ch.members, func(id string) bool { return id == userID })
	return nil
}

// setTopic changes the topic, with a channel_topic message.
func (w *workspace) setTopic(ch *channel, userID, topic string) error {
	if ch.archived {
		return errIsArchived
	}
	ch.topic = channelText{Value: topic, Creator: userID, LastSet: w.clock.unix()}
	_, err := w.post(ch, post{
		author: userID, asBot: userID == w.app.botUserID, subtype: "channel_topic",
		text: "set the channel topic: " + topic, topic: topic,
	})
	return err
}

// setPurpose changes the purpose (the "description" in Slack's clients), with a
// channel_purpose message.
func (w *workspace) setPurpose(ch *channel, userID, purpose string) error {
	if ch.archived {
		return errIsArchived
	}
	ch.purpose = channelText{Value: purpose, Creator: userID, LastSet: w.clock.unix()}
	_, err := w.post(ch, post{
		author: userID, asBot: userID == w.app.botUserID, subtype: "channel_purpose",
		text: "set the channel description: " + purpose, purpose: purpose,
	})
	return err
}

// rename renames ch, with channel_rename (group_rename for a private channel) and a
// channel_name message.
func (w *workspace) rename(ch *channel, userID, name string) error {
	if ch.isDirect() {
		return errMethodNotSupport
	}
	if err := w.checkChannelName(name, ch); err != nil {
		return err
	}
	old := ch.name
	ch.name = name
	ch.previousNames = append([]string{old}, ch.previousNames...)
	w.emit(ch, obj{
		"type": w.channelEventName(ch, "rename"),
		"channel": obj{
			"id": ch.id, "name": ch.name, "name_normalized": ch.name, "created": ch.created,
			"is_channel": ch.kind == publicChannel, "is_mpim": false,
		},
		"event_ts": w.clock.nextTS(),
	})
	_, err := w.post(ch, post{
		author: userID, asBot: userID == w.app.botUserID, subtype: "channel_name",
		text: fmt.Sprintf("has renamed the channel from %q to %q", old, name),
		name: name, oldName: old,
	})
	return err
}

// archive archives ch, with a channel_archive message and channel_archive (group_archive
// for a private channel). Members stay, as in Slack, but nobody can post any more.
func (w *workspace) archive(ch *channel, userID string) error {
	if ch.isDirect() || ch.general {
		return errMethodNotSupport
	}
	if ch.archived {
		return errAlreadyArchived
	}
	if _, err := w.post(ch, post{
		author: userID, asBot: userID == w.app.botUserID, subtype: "channel_archive",
		text: "archived the channel",
	}); err != nil {
		return err
	}
	ch.archived = true
	w.emit(ch, obj{
		"type":     w.channelEventName(ch, "archive"),
		"channel":  ch.id,
		"user":     userID,
		"event_ts": w.clock.nextTS(),
	})
	return nil
}

// channelEventName names a channel event as Slack does: channel_x for public channels and
// group_x, the legacy name, for private ones.
func (w *workspace) channelEventName(ch *channel, what string) string {
	if ch.kind == privateChannel {
		return "group_" + what
	}
	return "channel_" + what
}

// openDirect finds or creates the direct conversation among userIDs (the caller included):
// an im for two people, an mpim for more.
func (w *workspace) openDirect(userIDs []string) (ch *channel, existed bool) {
	slices.Sort(userIDs)
	userIDs = slices.Compact(userIDs)
	for _, id := range w.chanIDs {
		other := w.channels[id]
		if other.isDirect() && slices.Equal(sortedCopy(other.members), userIDs) {
			return other, true
		}
	}
	if len(userIDs) <= 2 {
		return w.addChannel(directMessage, "", userIDs[0], userIDs), false
	}
	var names []string
	for _, id := range userIDs {
		names = append(names, w.users[id].spec.Name)
	}
	name := "mpdm-" + strings.Join(names, "--") + "-1"
	return w.addChannel(groupMessage, name, userIDs[0], userIDs), false
}

// unique returns s without repeated values, in first-seen order.
func unique(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// AddChannel creates a channel as it exists before the test starts: no events are sent
// and no join messages posted.
func (s *Server) AddChannel(spec ChannelSpec) (Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.ws
	if err := w.checkChannelName(spec.Name, nil); err != nil {
		return Channel{}, err
	}
	members := slices.Clone(spec.Members)
	if spec.BotMember {
		members = append(members, w.app.botUserID)
	}
	for _, id := range members {
		if _, err := w.user(id); err != nil {
			return Channel{}, err
		}
	}
	creator := spec.Creator
	if creator == "" && len(members) > 0 {
		creator = members[0]
	} else if creator == "" {
		creator = slackbotID
	}
	kind := publicChannel
	if spec.Private {
		kind = privateChannel
	}
	ch := w.addChannel(kind, spec.Name, creator, unique(members))
	ch.general = spec.General
	now := w.clock.unix()
	if spec.Topic != "" {
		ch.topic = channelText{Value: spec.Topic, Creator: creator, LastSet: now}
	}
	if spec.Purpose != "" {
		ch.purpose = channelText{Value: spec.Purpose, Creator: creator, LastSet: now}
	}
	return Channel{ID: ch.id, Name: ch.name}, nil
}

// CreateChannel creates a channel as userID does in a Slack client: userID is its first
// member, and a public channel is announced with channel_created, which Slack sends to
// every app that may read channels. The bot is not a member.
func (s *Server) CreateChannel(userID, name string, private bool) (Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.ws
	if _, err := w.user(userID); err != nil {
		return Channel{}, err
	}
	if err := w.checkChannelName(name, nil); err != nil {
		return Channel{}, err
	}
	kind := publicChannel
	if private {
		kind = privateChannel
	}
	ch := w.addChannel(kind, name, userID, []string{userID})
	if !private {
		w.emit(nil, obj{
			"type": "channel_created",
			"channel": obj{
				"id": ch.id, "name": ch.name, "name_normalized": ch.name, "created": ch.created,
				"creator": userID, "is_channel": true, "is_shared": false, "is_org_shared": false,
			},
			"event_ts": w.clock.nextTS(),
		})
	}
	return Channel{ID: ch.id, Name: ch.name}, nil
}

// OpenDM finds or creates the direct conversation among userIDs: an im for two users, an
// mpim for more. Include BotUserID() for a conversation with the bot.
func (s *Server) OpenDM(userIDs ...string) (Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range userIDs {
		if _, err := s.ws.user(id); err != nil {
			return Channel{}, err
		}
	}
	ch, _ := s.ws.openDirect(slices.Clone(userIDs))
	return Channel{ID: ch.id, Name: ch.name}, nil
}

// Join makes a user (or the bot user) join a channel, with member_joined_channel and a
// channel_join message. A private channel is joined as if by invitation.
func (s *Server) Join(userID, channelID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.ws.user(userID); err != nil {
		return err
	}
	ch, err := s.ws.channel(channelID)
	if err != nil {
		return err
	}
	return s.ws.join(ch, userID, "")
}

// Leave makes a member leave a channel, with a channel_leave message and
// member_left_channel.
func (s *Server) Leave(userID, channelID string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.leave(ch, userID)
	})
}

// SetTopic sets a channel's topic as a member.
func (s *Server) SetTopic(userID, channelID, topic string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.setTopic(ch, userID, topic)
	})
}

// SetPurpose sets a channel's purpose as a member.
func (s *Server) SetPurpose(userID, channelID, purpose string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.setPurpose(ch, userID, purpose)
	})
}

// Rename renames a channel as a member.
func (s *Server) Rename(userID, channelID, name string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.rename(ch, userID, name)
	})
}

// Archive archives a channel as a member.
func (s *Server) Archive(userID, channelID string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.archive(ch, userID)
	})
}

// Members lists a conversation's members.
func (s *Server) Members(channelID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.ws.channel(channelID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ch.members), nil
}

// act runs f on a conversation for a member acting through the Go API.
func (s *Server) act(userID, channelID string, f func(*workspace, *channel) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.ws.user(userID); err != nil {
		return err
	}
	ch, err := s.ws.memberChannel(channelID, userID)
	if err != nil {
		return err
	}
	return f(s.ws, ch)
}
