package fakeslack

import (
	"encoding/json"
	"strings"
)

// handlePostMessage serves chat.postMessage. The bot token posts as the bot (with bot_id);
// a user token posts as its user, which is how double puppeting looks in Slack. username,
// icon_url and icon_emoji are honoured for the bot token only, as chat:write.customize
// allows; as_user is ignored, as it is for current Slack apps.
func (w *workspace) handlePostMessage(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	if c.param("text") == "" && !c.has("blocks") && !c.has("attachments") {
		return nil, errNoText
	}
	blocks, err := callBlocks(c)
	if err != nil {
		return nil, err
	}
	p := post{
		author:    c.actor(),
		asBot:     c.token.kind == botToken,
		text:      c.param("text"),
		blocks:    blocks,
		threadTS:  c.param("thread_ts"),
		broadcast: c.flag("reply_broadcast"),
	}
	if p.asBot {
		p.username, p.iconURL, p.iconEmoji = c.param("username"), c.param("icon_url"), c.param("icon_emoji")
	}
	m, err := w.post(ch, p)
	if err != nil {
		return nil, err
	}
	return obj{"channel": ch.id, "ts": m.TS, "message": m}, nil
}

// handleMeMessage serves chat.meMessage.
func (w *workspace) handleMeMessage(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	if c.param("text") == "" {
		return nil, errNoText
	}
	m, err := w.post(ch, post{
		author:  c.actor(),
		asBot:   c.token.kind == botToken,
		text:    c.param("text"),
		subtype: subtypeMeMessage,
	})
	if err != nil {
		return nil, err
	}
	return obj{"channel": ch.id, "ts": m.TS}, nil
}

// handleUpdateMessage serves chat.update. The text stays when only blocks are sent, and
// "blocks=[]" removes the blocks.
func (w *workspace) handleUpdateMessage(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	if !c.has("text") && !c.has("blocks") && !c.has("attachments") {
		return nil, errNoText
	}
	blocks, err := callBlocks(c)
	if err != nil {
		return nil, err
	}
	var text *string
	if c.has("text") {
		value := c.param("text")
		text = &value
	}
	m, err := w.update(ch, c.param("ts"), c.actor(), text, blocks)
	if err != nil {
		return nil, err
	}
	return obj{"channel": ch.id, "ts": m.TS, "text": m.Text, "message": m}, nil
}

// handleDeleteMessage serves chat.delete.
func (w *workspace) handleDeleteMessage(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	if err := w.remove(ch, c.param("ts"), c.actor()); err != nil {
		return nil, err
	}
	return obj{"channel": ch.id, "ts": c.param("ts")}, nil
}

// handleGetPermalink serves chat.getPermalink.
func (w *workspace) handleGetPermalink(c *call) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	m, err := ch.message(c.param("message_ts"))
	if err != nil {
		return nil, err
	}
	return obj{"channel": ch.id, "permalink": w.permalink(ch, m)}, nil
}

// permalink is a message's link in Slack's format: the ts without its dot after "p", and
// the thread for a reply.
func (w *workspace) permalink(ch *channel, m *Message) string {
	link := w.team.url() + "archives/" + ch.id + "/p" + strings.Replace(m.TS, ".", "", 1)
	if m.ThreadTS != "" && m.ThreadTS != m.TS {
		link += "?thread_ts=" + m.ThreadTS + "&cid=" + ch.id
	}
	return link
}

// callBlocks reads the "blocks" parameter, a JSON array; nil when it is absent.
func callBlocks(c *call) (json.RawMessage, error) {
	if !c.has("blocks") {
		return nil, nil
	}
	return withBlockIDs(json.RawMessage(c.param("blocks")))
}
