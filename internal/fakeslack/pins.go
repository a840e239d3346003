package fakeslack

import "slices"

// pin is a pinned message of a channel.
type pin struct {
	ts      string
	by      string
	created int64
}

// pinItem is a pin as pins.list and pin events describe it.
func (w *workspace) pinItem(ch *channel, p pin) obj {
	return obj{
		"type":       "message",
		"created":    p.created,
		"created_by": p.by,
		"channel":    ch.id,
		"message":    ch.messages[p.ts],
	}
}

// addPin pins a message as userID and sends pin_added.
func (w *workspace) addPin(ch *channel, ts, userID string) error {
	m, err := ch.message(ts)
	if err != nil {
		return err
	}
	if slices.Contains(m.PinnedTo, ch.id) {
		return errAlreadyPinned
	}
	m.PinnedTo = append(m.PinnedTo, ch.id)
	p := pin{ts: ts, by: userID, created: w.clock.unix()}
	ch.pins = append(ch.pins, p)
	w.emit(ch, obj{
		"type":        "pin_added",
		"user":        userID,
		"channel_id":  ch.id,
		"item":        w.pinItem(ch, p),
		"item_user":   w.author(m),
		"pin_count":   len(ch.pins),
		"pinned_info": obj{"channel": ch.id, "pinned_by": userID, "pinned_ts": p.created},
		"event_ts":    w.clock.nextTS(),
	})
	return nil
}

// removePin unpins a message as userID and sends pin_removed.
func (w *workspace) removePin(ch *channel, ts, userID string) error {
	m, err := ch.message(ts)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ch.pins, func(p pin) bool { return p.ts == ts })
	if i < 0 {
		return errNoPin
	}
	p := ch.pins[i]
	ch.pins = slices.Delete(ch.pins, i, i+1)
	m.PinnedTo = slices.DeleteFunc(m.PinnedTo, func(id string) bool { return id == ch.id })
	w.emit(ch, obj{
		"type":        "pin_removed",
		"user":        userID,
		"channel_id":  ch.id,
		"item":        w.pinItem(ch, p),
		"item_user":   w.author(m),
		"pin_count":   len(ch.pins),
		"pinned_info": obj{"channel": ch.id, "pinned_by": p.by, "pinned_ts": p.created},
		"has_pins":    len(ch.pins) > 0,
		"event_ts":    w.clock.nextTS(),
	})
	return nil
}

// handleAddPin serves pins.add.
func (w *workspace) handleAddPin(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	return nil, w.addPin(ch, c.param("timestamp"), c.actor())
}

// handleRemovePin serves pins.remove.
func (w *workspace) handleRemovePin(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	return nil, w.removePin(ch, c.param("timestamp"), c.actor())
}

// handleListPins serves pins.list, newest pin first.
func (w *workspace) handleListPins(c *call) (obj, error) {
	ch, err := w.visibleChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	items := []obj{}
	for _, p := range slices.Backward(ch.pins) {
		items = append(items, w.pinItem(ch, p))
	}
	return obj{"items": items}, nil
}

// Pin pins a message as a member.
func (s *Server) Pin(userID, channelID, ts string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.addPin(ch, ts, userID)
	})
}

// Unpin unpins a message as a member.
func (s *Server) Unpin(userID, channelID, ts string) error {
	return s.act(userID, channelID, func(w *workspace, ch *channel) error {
		return w.removePin(ch, ts, userID)
	})
}
