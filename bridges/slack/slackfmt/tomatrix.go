package slackfmt

import (
	"slices"

	"github.com/slack-go/slack"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// SlackResolver looks up the Slack objects a Slack message refers to, for
// Slack → Matrix conversion. The bridge implements it over its portal and
// ghost tables and its caches of Slack users, usergroups and custom emoji.
//
// Methods are called synchronously while a message is converted, possibly
// several times per message, and must not block on the network for long:
// answer from a cache and let a miss fall back (ok == false). They may be
// called from several goroutines at once if the caller converts messages
// concurrently. ok == false always selects the documented fallback; it is not
// an error.
type SlackResolver interface {
	// User returns the Matrix user that stands for a Slack user (normally the
	// ghost) and the name to show in the pill. On ok == false the mention is
	// shown as plain text: the name Slack gave in the message, or "@U123".
	User(slackUserID string) (mxid id.UserID, displayName string, ok bool)
	// Channel returns a link to the Matrix room of a Slack channel (a
	// matrix.to URL of the room ID or alias) and the channel's name without
	// "#". On ok == false the mention is shown as "#name" or "#C123".
	Channel(slackChannelID string) (link string, name string, ok bool)
	// Usergroup returns a usergroup's handle without "@". On ok == false the
	// label Slack sent is used, or "@S123".
	Usergroup(slackUsergroupID string) (handle string, ok bool)
	// CustomEmoji returns the mxc URI of a workspace custom emoji (the
	// bridge resolves aliases and uploads the image). On ok == false the
	// emoji is shown as ":name:".
	CustomEmoji(name string) (mxc id.ContentURI, ok bool)
}

// Message is a Slack message converted to Matrix.
type Message struct {
	// Body is the plain-text body.
	Body string
	// FormattedBody is the org.matrix.custom.html body, or "" when the
	// message has no formatting.
	FormattedBody string
	// UserIDs are the Matrix users mentioned, without duplicates, in order of
	// first mention (for m.mentions.user_ids).
	UserIDs []id.UserID
	// MentionsRoom says the message used @here, @channel or @everyone (for
	// m.mentions.room).
	MentionsRoom bool
}

// Content returns m as m.room.message content of the given msgtype, with
// m.mentions filled in (client-server-api "User and room mentions").
func (m Message) Content(msgType event.MessageType) *event.MessageEventContent {
	content := &event.MessageEventContent{
		MsgType:  msgType,
		Body:     m.Body,
		Mentions: &event.Mentions{UserIDs: slices.Clone(m.UserIDs), Room: m.MentionsRoom},
	}
	if m.FormattedBody != "" {
		content.Format = event.FormatHTML
		content.FormattedBody = m.FormattedBody
	}
	return content
}

// ToMatrix converts a Slack message, given its text and blocks. When blocks
// hold rich_text blocks with any content, the rich_text blocks are converted
// and text is ignored, since that is what Slack clients show. Otherwise text
// is parsed as mrkdwn. Other block types (section, header, context …) are not
// rendered: Slack requires a text fallback for them. r may be nil, in which
// case every mention and custom emoji falls back to text.
func ToMatrix(text string, blocks []slack.Block, r SlackResolver) Message {
	if m, ok := RichTextToMatrix(blocks, r); ok && m.Body != "" {
		return m
	}
	return MrkdwnToMatrix(text, r)
}

// MrkdwnToMatrix converts Slack mrkdwn, as found in a message's text field
// (with &, < and > escaped as Slack escapes them), to Matrix.
func MrkdwnToMatrix(mrkdwn string, r SlackResolver) Message {
	c := newConverter(r)
	return c.message(c.mrkdwnDoc(mrkdwn))
}

// RichTextToMatrix converts the rich_text blocks among blocks to Matrix. It
// returns ok == false when there is no rich_text block.
func RichTextToMatrix(blocks []slack.Block, r SlackResolver) (m Message, ok bool) {
	c := newConverter(r)
	doc, ok := c.richTextDoc(blocks)
	if !ok {
		return Message{}, false
	}
	return c.message(doc), true
}

// converter carries the resolver and the mentions found so far through one
// Slack → Matrix conversion.
type converter struct {
	r        SlackResolver
	users    []id.UserID
	mentions bool
}

func newConverter(r SlackResolver) *converter {
	if r == nil {
		r = noResolver{}
	}
	return &converter{r: r}
}

func (c *converter) message(doc []block) Message {
	body, formatted := render(doc)
	return Message{Body: body, FormattedBody: formatted, UserIDs: c.users, MentionsRoom: c.mentions}
}

// user returns the node for a mention of a Slack user. label is the name
// Slack sent along ("" if none).
func (c *converter) user(slackUserID, label string) inline {
	mxid, name, ok := c.r.User(slackUserID)
	if !ok || mxid == "" {
		if label == "" {
			label = slackUserID
		}
		return text("@" + label)
	}
	if name == "" {
		name = string(mxid)
	}
	if !slices.Contains(c.users, mxid) {
		c.users = append(c.users, mxid)
	}
	return pill{href: mxid.URI().MatrixToURL(), name: name}
}

// channel returns the node for a mention of a Slack channel.
func (c *converter) channel(slackChannelID, label string) inline {
	link, name, ok := c.r.Channel(slackChannelID)
	if name == "" {
		name = label
	}
	if name == "" {
		name = slackChannelID
	}
	if !ok || link == "" || !safeHref(link) {
		return text("#" + name)
	}
	return pill{href: link, name: "#" + name}
}

// usergroup returns the node for a mention of a Slack usergroup. Matrix has
// no group mentions, so it is text.
func (c *converter) usergroup(slackUsergroupID, label string) inline {
	if handle, ok := c.r.Usergroup(slackUsergroupID); ok && handle != "" {
		return text("@" + handle)
	}
	if label == "" {
		return text("@" + slackUsergroupID)
	}
	if label[0] != '@' {
		label = "@" + label
	}
	return text(label)
}

// broadcast returns the node for @here, @channel or @everyone: Matrix has one
// room-wide mention, @room.
func (c *converter) broadcast() inline {
	c.mentions = true
	return text("@room")
}

// emoji returns the node for a Slack emoji shortcode (without colons, skin
// tone as "name::skin-tone-N"), or false when it is neither a standard nor a
// resolvable custom emoji.
func (c *converter) emoji(code string) (inline, bool) {
	if u, ok := ShortcodeToUnicode(code); ok {
		return text(u), true
	}
	name, _, _ := cutSkinTone(code)
	if mxc, ok := c.r.CustomEmoji(name); ok && !mxc.IsEmpty() {
		return emoticon{src: mxc, name: name}, true
	}
	return nil, false
}

// noResolver resolves nothing. It stands in for a nil SlackResolver.
type noResolver struct{}

func (noResolver) User(string) (id.UserID, string, bool)    { return "", "", false }
func (noResolver) Channel(string) (string, string, bool)    { return "", "", false }
func (noResolver) Usergroup(string) (string, bool)          { return "", false }
func (noResolver) CustomEmoji(string) (id.ContentURI, bool) { return id.ContentURI{}, false }
