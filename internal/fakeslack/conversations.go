package fakeslack

import (
	"slices"
	"strings"
)

// channelObject is a conversation as the conversations.* methods describe it to viewer.
// Direct messages have Slack's shorter shape, with "user" the other person.
func (w *workspace) channelObject(ch *channel, viewer string) obj {
	if ch.kind == directMessage {
		other := ch.members[0]
		if other == viewer && len(ch.members) > 1 {
			other = ch.members[1]
		}
		return obj{
			"id":              ch.id,
			"created":         ch.created,
			"is_archived":     false,
			"is_im":           true,
			"is_org_shared":   false,
			"context_team_id": w.team.id,
			"updated":         ch.created * 1000,
			"user":            other,
			"is_user_deleted": w.users[other].spec.Deleted,
			"priority":        0,
		}
	}
	return obj{
		"id":                    ch.id,
		"name":                  ch.name,
		"is_channel":            !ch.isDirect(),
		"is_group":              false,
		"is_im":                 false,
		"is_mpim":               ch.kind == groupMessage,
		"is_private":            ch.kind != publicChannel,
		"created":               ch.created,
		"is_archived":           ch.archived,
		"is_general":            ch.general,
		"unlinked":              0,
		"name_normalized":       ch.name,
		"is_shared":             false,
		"is_org_shared":         false,
		"is_pending_ext_shared": false,
		"pending_shared":        []string{},
		"context_team_id":       w.team.id,
		"updated":               ch.created * 1000,
		"parent_conversation":   nil,
		"creator":               ch.creator,
		"is_ext_shared":         false,
		"shared_team_ids":       []string{w.team.id},
		"is_member":             ch.isMember(viewer),
		"topic":                 ch.topic,
		"purpose":               ch.purpose,
		"previous_names":        append([]string{}, ch.previousNames...),
		"num_members":           len(ch.members),
	}
}

// channelTypes reads the "types" parameter of the list methods; Slack's default is public
// channels only.
func channelTypes(c *call) []convKind {
	if c.param("types") == "" {
		return []convKind{publicChannel}
	}
	var kinds []convKind
	for _, t := range strings.Split(c.param("types"), ",") {
		kinds = append(kinds, convKind(strings.TrimSpace(t)))
	}
	return kinds
}

// listChannels pages the conversations of the given kinds that the filter keeps.
func (w *workspace) listChannels(c *call, viewer string, keep func(*channel) bool) (obj, error) {
	kinds := channelTypes(c)
	var ids []string
	for _, id := range w.chanIDs {
		ch := w.channels[id]
		if slices.Contains(kinds, ch.kind) && !(c.flag("exclude_archived") && ch.archived) && keep(ch) {
			ids = append(ids, id)
		}
	}
	page, next, err := paginate(c, ids)
	if err != nil {
		return nil, err
	}
	channels := []obj{}
	for _, id := range page {
		channels = append(channels, w.channelObject(w.channels[id], viewer))
	}
	return obj{"channels": channels, "response_metadata": obj{"next_cursor": next}}, nil
}

// handleListConversations serves conversations.list: public channels, and the other kinds
// the caller is a member of.
func (w *workspace) handleListConversations(c *call) (obj, error) {
	return w.listChannels(c, c.actor(), func(ch *channel) bool {
		return ch.kind == publicChannel || ch.isMember(c.actor())
	})
}

// handleUserConversations serves users.conversations: the conversations "user" (by default
// the caller) is a member of, as far as the caller can see them.
func (w *workspace) handleUserConversations(c *call) (obj, error) {
	member := c.actor()
	if c.param("user") != "" {
		u, err := w.user(c.param("user"))
		if err != nil {
			return nil, err
		}
		member = u.id
	}
	return w.listChannels(c, c.actor(), func(ch *channel) bool {
		return ch.isMember(member) && (ch.kind == publicChannel || ch.isMember(c.actor()))
	})
}

// handleConversationInfo serves conversations.info.
func (w *workspace) handleConversationInfo(c *call) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	return obj{"channel": w.channelObject(ch, c.actor())}, nil
}

// handleConversationMembers serves conversations.members with cursor pagination.
func (w *workspace) handleConversationMembers(c *call) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, ch.members)
	if err != nil {
		return nil, err
	}
	return obj{"members": append([]string{}, page...), "response_metadata": obj{"next_cursor": next}}, nil
}

// handleJoin serves conversations.join, for public channels only.
func (w *workspace) handleJoin(c *call) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	if ch.kind != publicChannel {
		return nil, errMethodNotSupport
	}
	answer := obj{}
	if ch.isMember(c.actor()) {
		answer["warning"] = "already_in_channel"
		answer["response_metadata"] = obj{"warnings": []string{"already_in_channel"}}
	} else if err := w.join(ch, c.actor(), ""); err != nil {
		return nil, err
	}
	answer["channel"] = w.channelObject(ch, c.actor())
	return answer, nil
}

// handleOpen serves conversations.open: the caller's direct conversation with "users".
// Slack answers only the ID unless return_im is set.
func (w *workspace) handleOpen(c *call) (obj, error) {
	var ch *channel
	existed := true
	if c.param("channel") != "" {
		found, err := w.memberChannel(c.param("channel"), c.actor())
		if err != nil {
			return nil, err
		}
		ch = found
	} else {
		if c.param("users") == "" {
			return nil, Error("users_list_not_supplied")
		}
		ids := []string{c.actor()}
		for _, id := range strings.Split(c.param("users"), ",") {
			if _, err := w.user(id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		ch, existed = w.openDirect(ids)
	}
	answer := obj{"channel": obj{"id": ch.id}}
	if c.flag("return_im") {
		answer["channel"] = w.channelObject(ch, c.actor())
	}
	if existed {
		answer["no_op"] = true
		answer["already_open"] = true
	}
	return answer, nil
}

// handleSetTopic serves conversations.setTopic.
func (w *workspace) handleSetTopic(c *call) (obj, error) {
	return w.changeChannel(c, func(ch *channel) error { return w.setTopic(ch, c.actor(), c.param("topic")) })
}

// handleSetPurpose serves conversations.setPurpose.
func (w *workspace) handleSetPurpose(c *call) (obj, error) {
	return w.changeChannel(c, func(ch *channel) error { return w.setPurpose(ch, c.actor(), c.param("purpose")) })
}

// handleRename serves conversations.rename.
func (w *workspace) handleRename(c *call) (obj, error) {
	return w.changeChannel(c, func(ch *channel) error { return w.rename(ch, c.actor(), c.param("name")) })
}

// handleArchive serves conversations.archive.
func (w *workspace) handleArchive(c *call) (obj, error) {
	answer, err := w.changeChannel(c, func(ch *channel) error { return w.archive(ch, c.actor()) })
	if err != nil {
		return nil, err
	}
	delete(answer, "channel") // conversations.archive answers only "ok"
	return answer, nil
}

// changeChannel applies change to the "channel" of a call made by a member, and answers
// the changed channel.
func (w *workspace) changeChannel(c *call, change func(*channel) error) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	if err := change(ch); err != nil {
		return nil, err
	}
	return obj{"channel": w.channelObject(ch, c.actor())}, nil
}
