package fakeslack

import (
	"encoding/json"
	"maps"
	"slices"
)

// Message is a message as Slack stores it. Its JSON is what conversations.history,
// conversations.replies and message events carry, and the Go API returns copies of it.
type Message struct {
	Type            string            `json:"type"`
	Subtype         string            `json:"subtype,omitempty"`
	Hidden          bool              `json:"hidden,omitempty"`
	TS              string            `json:"ts"`
	User            string            `json:"user,omitempty"`
	BotID           string            `json:"bot_id,omitempty"`
	AppID           string            `json:"app_id,omitempty"`
	BotProfile      *BotProfile       `json:"bot_profile,omitempty"`
	Username        string            `json:"username,omitempty"`
	Icons           map[string]string `json:"icons,omitempty"`
	Text            string            `json:"text"`
	Blocks          json.RawMessage   `json:"blocks,omitempty"`
	Files           []File            `json:"files,omitempty"`
	Upload          bool              `json:"upload,omitempty"`
	Team            string            `json:"team,omitempty"`
	ClientMsgID     string            `json:"client_msg_id,omitempty"`
	ThreadTS        string            `json:"thread_ts,omitempty"`
	ParentUserID    string            `json:"parent_user_id,omitempty"`
	ReplyCount      int               `json:"reply_count,omitempty"`
	ReplyUsersCount int               `json:"reply_users_count,omitempty"`
	LatestReply     string            `json:"latest_reply,omitempty"`
	ReplyUsers      []string          `json:"reply_users,omitempty"`
	Edited          *Edited           `json:"edited,omitempty"`
	Reactions       []Reaction        `json:"reactions,omitempty"`
	PinnedTo        []string          `json:"pinned_to,omitempty"`

	// Fields of the channel_* subtypes.
	Inviter string `json:"inviter,omitempty"`
	Topic   string `json:"topic,omitempty"`
	Purpose string `json:"purpose,omitempty"`
	Name    string `json:"name,omitempty"`
	OldName string `json:"old_name,omitempty"`
}

// Edited marks an edited message: who edited it last, and when.
type Edited struct {
	User string `json:"user"`
	TS   string `json:"ts"`
}

// Reaction is one emoji's reactions on a message, users in the order they reacted.
type Reaction struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
	Count int      `json:"count"`
}

// BotProfile describes the app that posted a message, as Slack adds it to bot messages.
type BotProfile struct {
	ID      string            `json:"id"`
	AppID   string            `json:"app_id"`
	Name    string            `json:"name"`
	Icons   map[string]string `json:"icons"`
	Deleted bool              `json:"deleted"`
	Updated int64             `json:"updated"`
	TeamID  string            `json:"team_id"`
}

// Message subtypes the fake produces (https://docs.slack.dev/reference/events/message).
const (
	subtypeBotMessage      = "bot_message"
	subtypeMeMessage       = "me_message"
	subtypeThreadBroadcast = "thread_broadcast"
	subtypeFileShare       = "file_share"
	subtypeTombstone       = "tombstone"
)

// clone returns a deep copy of m, safe to hand out while m keeps changing.
func (m *Message) clone() Message {
	c := *m
	c.Icons = maps.Clone(m.Icons)
	c.Blocks = slices.Clone(m.Blocks)
	c.Files = slices.Clone(m.Files)
	c.ReplyUsers = slices.Clone(m.ReplyUsers)
	c.PinnedTo = slices.Clone(m.PinnedTo)
	c.Reactions = slices.Clone(m.Reactions)
	for i := range c.Reactions {
		c.Reactions[i].Users = slices.Clone(c.Reactions[i].Users)
	}
	if m.Edited != nil {
		edited := *m.Edited
		c.Edited = &edited
	}
	return c
}

// object is m as a JSON object, for events that add fields to it.
func (m *Message) object() obj {
	data, _ := json.Marshal(m)
	var o obj
	_ = json.Unmarshal(data, &o)
	return o
}

// isTopLevel reports whether conversations.history lists m: thread parents, unthreaded
// messages and replies also sent to the channel.
func (m *Message) isTopLevel() bool {
	return m.ThreadTS == "" || m.ThreadTS == m.TS || m.Subtype == subtypeThreadBroadcast
}

// post is what it takes to post a message.
type post struct {
	author    string // the user, or the bot user when asBot
	asBot     bool   // posted with the bot token
	text      string
	blocks    json.RawMessage
	threadTS  string
	broadcast bool   // reply_broadcast: a reply also shown in the channel
	username  string // chat:write.customize: shown instead of the bot's name
	iconURL   string
	iconEmoji string
	subtype   string
	files     []File
	typed     bool // typed in a Slack client rather than sent through the API

	inviter, topic, purpose, name, oldName string
}

// post stores a new message in ch and sends its event.
func (w *workspace) post(ch *channel, p post) (*Message, error) {
	if ch.archived {
		return nil, errIsArchived
	}
	parent, err := w.threadParent(ch, p.threadTS)
	if err != nil {
		return nil, err
	}
	m := &Message{
		Type:    "message",
		Subtype: p.subtype,
		User:    p.author,
		Text:    p.text,
		Blocks:  p.blocks,
		Files:   p.files,
		Team:    w.team.id,
		Inviter: p.inviter, Topic: p.topic, Purpose: p.purpose, Name: p.name, OldName: p.oldName,
	}
	if p.typed {
		m.ClientMsgID = newUUID()
	}
	if len(p.files) > 0 {
		m.Subtype = subtypeFileShare
		m.Upload = true
	}
	if p.asBot {
		w.markBotMessage(m, p)
	}
	m.TS = w.clock.nextTS()
	if parent != nil {
		m.ThreadTS = parent.TS
		m.ParentUserID = parent.User
		if p.broadcast {
			m.Subtype = subtypeThreadBroadcast
		}
		addReply(parent, m)
	}
	ch.messages[m.TS] = m
	ch.order = append(ch.order, m.TS)
	w.emitMessage(ch, m)
	return m, nil
}

// threadParent finds the parent of a reply to threadTS. A reply's ts names its thread,
// as in Slack. It returns nil for a message that is not a reply.
func (w *workspace) threadParent(ch *channel, threadTS string) (*Message, error) {
	if threadTS == "" {
		return nil, nil
	}
	parent, ok := ch.messages[threadTS]
	if !ok {
		return nil, errThreadNotFound
	}
	if parent.ThreadTS != "" && parent.ThreadTS != parent.TS {
		parent = ch.messages[parent.ThreadTS]
	}
	return parent, nil
}

// markBotMessage adds what Slack adds to a message posted with the bot token. A custom
// username or icon (chat:write.customize) turns it into a bot_message, which carries no user.
func (w *workspace) markBotMessage(m *Message, p post) {
	m.BotID = w.app.botID
	m.AppID = w.app.appID
	m.BotProfile = w.botProfile()
	if p.username == "" && p.iconURL == "" && p.iconEmoji == "" {
		return
	}
	m.Subtype = subtypeBotMessage
	m.User = ""
	m.Username = p.username
	if m.Username == "" {
		m.Username = w.users[w.app.botUserID].spec.Name
	}
	switch {
	case p.iconURL != "":
		m.Icons = map[string]string{"image_48": p.iconURL}
	case p.iconEmoji != "":
		m.Icons = map[string]string{"emoji": p.iconEmoji}
	}
}

func (w *workspace) botProfile() *BotProfile {
	bot := w.users[w.app.botUserID]
	return &BotProfile{
		ID:      w.app.botID,
		AppID:   w.app.appID,
		Name:    bot.spec.Name,
		Icons:   map[string]string{"image_36": w.avatarURL(bot, "36"), "image_48": w.avatarURL(bot, "48"), "image_72": w.avatarURL(bot, "72")},
		Updated: bot.updated,
		TeamID:  w.team.id,
	}
}

// author is who a message counts as written by in thread metadata: its user, or for a
// bot_message its bot user.
func (w *workspace) author(m *Message) string {
	if m.User == "" && m.BotID == w.app.botID {
		return w.app.botUserID
	}
	return m.User
}

// addReply updates a thread parent's reply metadata for a new reply.
func addReply(parent, reply *Message) {
	parent.ThreadTS = parent.TS
	parent.ReplyCount++
	parent.LatestReply = reply.TS
	if reply.User != "" && !slices.Contains(parent.ReplyUsers, reply.User) {
		parent.ReplyUsers = append(parent.ReplyUsers, reply.User)
		parent.ReplyUsersCount = len(parent.ReplyUsers)
	}
}

// replies returns a thread's replies, oldest first.
func (ch *channel) replies(parentTS string) []*Message {
	var out []*Message
	for _, ts := range ch.order {
		m := ch.messages[ts]
		if m.ThreadTS == parentTS && m.TS != parentTS {
			out = append(out, m)
		}
	}
	return out
}

// message finds a message in ch.
func (ch *channel) message(ts string) (*Message, error) {
	m, ok := ch.messages[ts]
	if !ok {
		return nil, errMessageNotFound
	}
	return m, nil
}

// update edits a message as editor: its text when text is not nil, and its blocks when
// blocks is not nil. Only a message's author may edit it; the bot token edits the bot's.
func (w *workspace) update(ch *channel, ts, editor string, text *string, blocks json.RawMessage) (*Message, error) {
	m, err := ch.message(ts)
	if err != nil {
		return nil, err
	}
	if w.author(m) != editor || m.Subtype == subtypeTombstone {
		return nil, errCantUpdateMessage
	}
	previous := m.clone()
	if text != nil {
		m.Text = *text
	}
	if blocks != nil {
		m.Blocks = blocks
	}
	m.Edited = &Edited{User: editor, TS: w.clock.nextTS()}
	w.emitChanged(ch, m, &previous)
	return m, nil
}

// remove deletes a message as deleter, who must be its author. A thread parent with
// replies leaves a tombstone, as in Slack, so that its replies stay reachable.
func (w *workspace) remove(ch *channel, ts, deleter string) error {
	m, err := ch.message(ts)
	if err != nil {
		return err
	}
	if w.author(m) != deleter || m.Subtype == subtypeTombstone {
		return errCantDeleteMessage
	}
	previous := m.clone()
	ch.pins = slices.DeleteFunc(ch.pins, func(p pin) bool { return p.ts == ts })
	if m.ReplyCount > 0 && m.ThreadTS == m.TS {
		*m = Message{
			Type: "message", Subtype: subtypeTombstone, Hidden: true, TS: m.TS, User: slackbotID,
			Text: "This message was deleted.", ThreadTS: m.TS, ReplyCount: m.ReplyCount,
			ReplyUsersCount: m.ReplyUsersCount, LatestReply: m.LatestReply, ReplyUsers: m.ReplyUsers,
		}
	} else {
		ch.drop(ts)
		if parent, ok := ch.messages[m.ThreadTS]; ok && m.ThreadTS != m.TS {
			recountReplies(ch, parent)
		}
	}
	w.emitDeleted(ch, &previous)
	return nil
}

// drop forgets a message.
func (ch *channel) drop(ts string) {
	delete(ch.messages, ts)
	ch.order = slices.DeleteFunc(ch.order, func(other string) bool { return other == ts })
}

// recountReplies recomputes a thread parent's metadata after a reply was deleted. A
// tombstone goes with its last reply.
func recountReplies(ch *channel, parent *Message) {
	parent.ThreadTS, parent.ReplyCount, parent.ReplyUsersCount, parent.LatestReply, parent.ReplyUsers = "", 0, 0, "", nil
	for _, reply := range ch.replies(parent.TS) {
		addReply(parent, reply)
	}
	if parent.Subtype == subtypeTombstone && parent.ReplyCount == 0 {
		ch.drop(parent.TS)
	}
}

// PostOption changes how Post posts.
type PostOption func(*post)

// InThread posts the message as a reply in the thread of threadTS.
func InThread(threadTS string) PostOption {
	return func(p *post) { p.threadTS = threadTS }
}

// Broadcast also shows a reply in the channel ("Also send to #channel"): a thread_broadcast.
func Broadcast() PostOption {
	return func(p *post) { p.broadcast = true }
}

// WithBlocks gives the message these blocks (a JSON array) instead of the rich_text block
// a Slack client builds from the text.
func WithBlocks(blocks json.RawMessage) PostOption {
	return func(p *post) { p.blocks = blocks }
}

// Post posts text, mrkdwn, as userID typing it in a Slack client, and returns the
// message's ts. Like a client, it sends a client_msg_id and a rich_text block built from
// the text, with formatting, mentions, links and emoji as their own elements (richtext.go
// lists what is recognised); WithBlocks replaces the block.
func (s *Server) Post(userID, channelID, text string, opts ...PostOption) (string, error) {
	p := post{author: userID, text: text, typed: true}
	for _, opt := range opts {
		opt(&p)
	}
	return s.postAs(channelID, p)
}

// MeMessage posts a /me message (subtype me_message) as userID.
func (s *Server) MeMessage(userID, channelID, text string) (string, error) {
	return s.postAs(channelID, post{author: userID, text: text, subtype: subtypeMeMessage, typed: true})
}

func (s *Server) postAs(channelID string, p post) (string, error) {
	var ts string
	err := s.act(p.author, channelID, func(w *workspace, ch *channel) error {
		blocks, err := blocksOrRichText(p.blocks, p.text)
		if err != nil {
			return err
		}
		p.blocks = blocks
		m, err := w.post(ch, p)
		if err != nil {
			return err
		}
		ts = m.TS
		return nil
	})
	return ts, err
}

// Edit changes the text of userID's message as a Slack client does, rebuilding its
// rich_text block from the new text as Post builds it, and sends message_changed. An
// empty text fails with no_text: a client offers to delete the message instead.
func (s *Server) Edit(userID, channelID, ts, text string) error {
	if text == "" {
		return errNoText
	}
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		_, err := w.update(ch, ts, userID, &text, richText(text))
		return err
	})
}

// Delete deletes userID's message and sends message_deleted.
func (s *Server) Delete(userID, channelID, ts string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.remove(ch, ts, userID)
	})
}

// Messages returns every message of a conversation, replies included, oldest first.
func (s *Server) Messages(channelID string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.ws.channel(channelID)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(ch.order))
	for _, ts := range ch.order {
		out = append(out, ch.messages[ts].clone())
	}
	return out, nil
}

// Message returns one message.
func (s *Server) Message(channelID, ts string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.ws.channel(channelID)
	if err != nil {
		return Message{}, err
	}
	m, err := ch.message(ts)
	if err != nil {
		return Message{}, err
	}
	return m.clone(), nil
}

// Replies returns the replies in the thread of threadTS, oldest first, without the parent.
func (s *Server) Replies(channelID, threadTS string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.ws.channel(channelID)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, m := range ch.replies(threadTS) {
		out = append(out, m.clone())
	}
	return out, nil
}
