package fakeslack

import "encoding/json"

// verificationToken is the deprecated verification token Slack still puts in every
// event_callback and url_verification. slack-go's socketmode client does not check it.
const verificationToken = "fake-verification-token"

// emit sends ev, an inner Events API event, to the app: as an HTTP POST to the Request URL
// once UseEventsAPI has set one, over Socket Mode otherwise. Either way it only queues the
// event and never blocks. An event that happens in a conversation reaches the app when its
// bot user is a member, as Slack delivers message.channels and friends, or, in a DM or
// group DM, when a member has authorized the app with a user token (the manifest's user
// events message.im and message.mpim): the event then names that user in its
// authorizations. ch is nil for workspace events such as user_change. The app's own actions
// are delivered too, as Slack does: the bridge must recognise its echoes by bot_id or user.
func (w *workspace) emit(ch *channel, ev obj) {
	authorization := obj{"enterprise_id": nil, "team_id": w.team.id, "user_id": w.app.botUserID, "is_bot": true, "is_enterprise_install": false}
	if ch != nil && !ch.isMember(w.app.botUserID) {
		user := w.authorizingMember(ch)
		if user == "" {
			return
		}
		authorization["user_id"], authorization["is_bot"] = user, false
	}
	payload, _ := json.Marshal(obj{
		"token":                 verificationToken,
		"team_id":               w.team.id,
		"api_app_id":            w.app.appID,
		"event":                 ev,
		"type":                  "event_callback",
		"event_id":              w.ids.next("Ev"),
		"event_time":            w.clock.unix(),
		"authorizations":        []obj{authorization},
		"is_ext_shared_channel": false,
		"event_context":         "4-" + randomHex(16),
	})
	if !w.poster.enqueue(payload) {
		w.hub.send(payload)
	}
}

// authorizingMember returns a member of a DM or group DM who authorized the app with a user
// token that is not revoked, or "".
func (w *workspace) authorizingMember(ch *channel) string {
	if !ch.isDirect() {
		return ""
	}
	for _, tok := range w.tokens {
		if tok.kind == userToken && !tok.revoked && ch.isMember(tok.userID) {
			return tok.userID
		}
	}
	return ""
}

// emitMessage sends a message event for m, which was just posted in ch: the message itself
// with the channel, its type and event_ts added.
func (w *workspace) emitMessage(ch *channel, m *Message) {
	ev := m.object()
	ev["channel"] = ch.id
	ev["channel_type"] = ch.eventType()
	ev["event_ts"] = m.TS
	if m.Subtype == subtypeThreadBroadcast {
		if root, ok := ch.messages[m.ThreadTS]; ok {
			ev["root"] = root
		}
	}
	w.emit(ch, ev)
}

// emitChanged sends a message_changed event: m is the message after the change and
// previous a copy from before it.
func (w *workspace) emitChanged(ch *channel, m, previous *Message) {
	ts := w.clock.nextTS()
	w.emit(ch, obj{
		"type":             "message",
		"subtype":          "message_changed",
		"hidden":           true,
		"message":          m,
		"previous_message": previous,
		"channel":          ch.id,
		"channel_type":     ch.eventType(),
		"ts":               ts,
		"event_ts":         ts,
	})
}

// emitDeleted sends a message_deleted event for previous, the removed message.
func (w *workspace) emitDeleted(ch *channel, previous *Message) {
	ts := w.clock.nextTS()
	w.emit(ch, obj{
		"type":             "message",
		"subtype":          "message_deleted",
		"hidden":           true,
		"deleted_ts":       previous.TS,
		"previous_message": previous,
		"channel":          ch.id,
		"channel_type":     ch.eventType(),
		"ts":               ts,
		"event_ts":         ts,
	})
}
