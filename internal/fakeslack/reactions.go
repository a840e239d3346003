package fakeslack

import (
	"slices"
	"strings"
)

// react adds userID's reaction name to a message and sends reaction_added.
func (w *workspace) react(ch *channel, ts, userID, name string) error {
	m, name, err := reactionTarget(ch, ts, name)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(m.Reactions, func(r Reaction) bool { return r.Name == name })
	if i < 0 {
		m.Reactions = append(m.Reactions, Reaction{Name: name})
		i = len(m.Reactions) - 1
	}
	r := &m.Reactions[i]
	if slices.Contains(r.Users, userID) {
		return errAlreadyReacted
	}
	r.Users = append(r.Users, userID)
	r.Count = len(r.Users)
	w.emitReaction(ch, m, "reaction_added", userID, name)
	return nil
}

// unreact removes userID's reaction name from a message and sends reaction_removed.
func (w *workspace) unreact(ch *channel, ts, userID, name string) error {
	m, name, err := reactionTarget(ch, ts, name)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(m.Reactions, func(r Reaction) bool { return r.Name == name })
	if i < 0 || !slices.Contains(m.Reactions[i].Users, userID) {
		return errNoReaction
	}
	r := &m.Reactions[i]
	r.Users = slices.DeleteFunc(r.Users, func(id string) bool { return id == userID })
	r.Count = len(r.Users)
	if r.Count == 0 {
		m.Reactions = slices.Delete(m.Reactions, i, i+1)
	}
	w.emitReaction(ch, m, "reaction_removed", userID, name)
	return nil
}

// reactionTarget finds the message a reaction is about and normalises the emoji name:
// Slack accepts ":thumbsup:" for "thumbsup".
func reactionTarget(ch *channel, ts, name string) (*Message, string, error) {
	name = strings.Trim(name, ":")
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return nil, "", errInvalidName
	}
	m, err := ch.message(ts)
	if err != nil {
		return nil, "", err
	}
	return m, name, nil
}

func (w *workspace) emitReaction(ch *channel, m *Message, eventType, userID, name string) {
	w.emit(ch, obj{
		"type":      eventType,
		"user":      userID,
		"reaction":  name,
		"item_user": w.author(m),
		"item":      obj{"type": "message", "channel": ch.id, "ts": m.TS},
		"event_ts":  w.clock.nextTS(),
	})
}

// handleAddReaction serves reactions.add.
func (w *workspace) handleAddReaction(c *call) (obj, error) {
	return w.changeReaction(c, w.react)
}

// handleRemoveReaction serves reactions.remove.
func (w *workspace) handleRemoveReaction(c *call) (obj, error) {
	return w.changeReaction(c, w.unreact)
}

func (w *workspace) changeReaction(c *call, change func(ch *channel, ts, userID, name string) error) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	return nil, change(ch, c.param("timestamp"), c.actor(), c.param("name"))
}

// handleGetReactions serves reactions.get for a message: the message with its reactions.
func (w *workspace) handleGetReactions(c *call) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	m, err := ch.message(c.param("timestamp"))
	if err != nil {
		return nil, err
	}
	return obj{"type": "message", "channel": ch.id, "message": m}, nil
}

// React adds userID's reaction to a message, as a member would in a Slack client.
func (s *Server) React(userID, channelID, ts, name string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.react(ch, ts, userID, name)
	})
}

// Unreact removes userID's reaction from a message.
func (s *Server) Unreact(userID, channelID, ts, name string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.unreact(ch, ts, userID, name)
	})
}
